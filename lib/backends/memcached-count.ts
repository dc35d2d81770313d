import type memjs from 'memjs';
import type { EntryTally } from '../interfaces/cache-backend.interface.js';

/** The items and bytes each server of a memjs client holds: whole servers, every alias on them. */
export function countItems(client: memjs.Client<Buffer, Buffer | null>): Promise<EntryTally> {
  return new Promise((resolve) => {
    const found: string[] = [];
    let items: number | undefined = 0;
    client.stats((error, server, stats) => {
      if (error || !stats) items = undefined;
      else if (items !== undefined) items += Number(stats.curr_items);
      found.push(
        error || !stats
          ? `${server}: ${error?.message ?? 'no answer'}`
          : `${server}: ${stats.curr_items} items, ${stats.bytes} bytes`,
      );
      if (found.length === client.servers.length)
        resolve({ entries: items, description: `${found.sort().join('; ')} (whole servers)` });
    });
  });
}
