import { Redis } from 'ioredis';
import { redisDb } from './addresses.js';

/**
 * A user of the shared test redis (REDIS_URL) that may run every command but `denied`: a store
 * that answers reads and refuses, for real, the commands a test wants to fail (`set`: writes;
 * `evalsha`, `eval`: the scripts, such as the lease's compare-and-delete). Returns the URL of
 * database `db` as that user, and a function that removes the user.
 */
export async function redisUserDenied(
  db: number,
  denied: readonly string[],
): Promise<{ url: string; remove: () => Promise<void> }> {
  const admin = new Redis(redisDb(db));
  const name = `methods-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
  const password = 'methods-test';
  await admin.call('ACL', 'SETUSER', name, 'on', `>${password}`, '~*', '&*', '+@all', ...denied.map((c) => `-${c}`));
  const url = new URL(redisDb(db));
  url.username = name;
  url.password = password;
  return {
    url: url.href,
    remove: async () => {
      await admin.call('ACL', 'DELUSER', name);
      admin.disconnect();
    },
  };
}
