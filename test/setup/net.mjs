// Small loopback helpers for starting test servers: free ports, one-shot raw TCP exchanges,
// and bounded polling. Plain Node, so the runner needs no compiled code.
import { createConnection, createServer } from 'node:net';

const LOOPBACK = '127.0.0.1';

/** A port free on 127.0.0.1 right now: the kernel picks one when we bind port 0. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Sends `request` to 127.0.0.1:port and resolves with the text received once `isComplete(text)` says
 * so. Rejects on a connection error, an early close or after `timeoutMs`.
 */
export function exchange(port, request, isComplete, timeoutMs = 1000, encoding = 'utf8') {
  return new Promise((resolve, reject) => {
    let text = '';
    const socket = createConnection({ host: LOOPBACK, port });
    const finish = (err) => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(text);
    };
    const timer = setTimeout(
      () =>
        finish(new Error(`no complete answer from ${LOOPBACK}:${port} in ${timeoutMs} ms: ${JSON.stringify(text)}`)),
      timeoutMs,
    );
    socket.setEncoding(encoding);
    socket.once('connect', () => socket.write(request));
    socket.on('data', (chunk) => {
      text += chunk;
      if (isComplete(text)) finish();
    });
    socket.once('error', finish);
    socket.once('close', () => finish(new Error(`${LOOPBACK}:${port} closed the connection: ${JSON.stringify(text)}`)));
  });
}

/** Redis answers PING with +PONG only once it has loaded and can serve commands. */
export async function redisPing(port) {
  const answer = await exchange(port, 'PING\r\n', (t) => t.includes('\r\n'));
  if (!answer.startsWith('+PONG')) throw new Error(`PING got ${JSON.stringify(answer)}`);
}

/** Sends one inline command whose answer is one line (+OK, :1, ...); an -ERR answer is thrown. */
export async function redisCommand(port, line) {
  const answer = (await exchange(port, `${line}\r\n`, (t) => t.includes('\r\n'))).trim();
  if (answer.startsWith('-')) throw new Error(`${line} got ${answer}`);
  return answer;
}

/** The text of an answer that is one RESP bulk string (`$<length>\r\n<text>\r\n`), as INFO's. */
async function redisBulk(port, line) {
  const answer = await exchange(port, `${line}\r\n`, (t) => {
    const header = /^\$(\d+)\r\n/.exec(t);
    return t.startsWith('-')
      ? t.includes('\r\n')
      : header !== null && Buffer.byteLength(t) >= header[0].length + Number(header[1]) + 2;
  });
  if (!answer.startsWith('$')) throw new Error(`${line} got ${JSON.stringify(answer)}`);
  return answer;
}

/** The text of CLUSTER INFO. */
export function redisClusterInfo(port) {
  return redisBulk(port, 'CLUSTER INFO');
}

/** The text of `INFO <section>` (`replication` on a server, `sentinel` on a sentinel). */
export function redisInfo(port, section) {
  return redisBulk(port, `INFO ${section}`);
}

/** memcached's `version` command answers `VERSION x.y.z`. */
export async function memcachedVersion(port) {
  const answer = await exchange(port, 'version\r\n', (t) => t.includes('\r\n'));
  if (!answer.startsWith('VERSION ')) throw new Error(`version got ${JSON.stringify(answer)}`);
  return answer.trim();
}

/**
 * PostgreSQL accepts queries once a startup message (protocol 3.0, trust auth) is answered with
 * ReadyForQuery ('Z'); while it starts it answers ErrorResponse ('E') instead.
 */
export async function postgresReady(port, user = 'postgres', database = 'postgres') {
  const body = Buffer.from(`user\0${user}\0database\0${database}\0\0`);
  const startup = Buffer.alloc(8 + body.length);
  startup.writeInt32BE(startup.length, 0);
  startup.writeInt32BE(196608, 4); // protocol version 3.0
  body.copy(startup, 8);
  const answer = Buffer.from(
    await exchange(port, startup, (t) => firstMessageTypes(t).some((m) => m === 'Z' || m === 'E'), 1000, 'latin1'),
    'latin1',
  );
  const types = firstMessageTypes(answer.toString('latin1'));
  if (!types.includes('Z'))
    throw new Error(`startup got ${JSON.stringify(answer.toString('latin1').replace(/[^ -~]/g, '.'))}`);
}

/** Message type bytes of the complete messages at the start of a PostgreSQL server's answer. */
function firstMessageTypes(text) {
  const bytes = Buffer.from(text, 'latin1');
  const types = [];
  for (let at = 0; at + 5 <= bytes.length; at += 1 + bytes.readInt32BE(at + 1)) {
    if (at + 1 + bytes.readInt32BE(at + 1) > bytes.length) break;
    types.push(String.fromCharCode(bytes[at]));
  }
  return types;
}

/**
 * Calls `attempt` until it resolves, every `intervalMs`, for at most `timeoutMs`. `attempt` may throw
 * an error with `fatal: true` to stop at once (a server that exited will never answer).
 */
export async function pollUntil(attempt, { timeoutMs, intervalMs = 100, what }) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      if (err?.fatal) throw err;
      lastError = err;
    }
    if (Date.now() >= deadline) {
      throw new Error(`${what} not ready after ${timeoutMs / 1000} s (last error: ${lastError?.message ?? lastError})`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
