/** The part of an ioredis client (single, cluster or sentinel) that closing needs. */
export interface QuittableRedis {
  quit(): Promise<unknown>;
  disconnect(): void;
}

// Long enough for a live server to answer QUIT; a server that does not is dropped.
const MIN_QUIT_WAIT_MS = 200;

/** Quits, and drops the connection if the server does not answer within `timeoutMs` (at least 200 ms). */
export async function quitRedis(client: QuittableRedis, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.quit(),
      new Promise((resolve) => (timer = setTimeout(resolve, Math.max(timeoutMs, MIN_QUIT_WAIT_MS)))),
    ]);
  } catch {
    // Quitting a dead connection fails; disconnecting below is what matters.
  } finally {
    clearTimeout(timer);
    client.disconnect();
  }
}
