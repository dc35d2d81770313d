// A reverse-proxy cache made of nothing but lib/http/rfc9111's rules and a Map, to score the
// rules on the cache-tests suite before they are plugged into the page path (issue 15's strategy
// interface). It is the yardstick the page cache's `rules: 'rfc9111'` should reach, not a product.
//
//   node --import ./test/support/register-ts.mjs test/rfc9111/cache-tests/reference-cache.ts <origin port> [no-heuristic]
//
// Prints one line of JSON, { url }, once listening.
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import {
  ERROR_STATUSES_FOR_STALE,
  NOT_IN_304,
  ageToSend,
  answersNotModified,
  canRevalidate,
  conditionalFields,
  decideReuse,
  decideStore,
  fieldsToStore,
  freshenedWith,
  describesStored,
  headUpdate,
  invalidationTargets,
  mayServeStaleOnError,
  mayServeStaleWhenDisconnected,
  requestPolicy,
  selectingFields,
  varyMatches,
  withoutFields,
  type CacheRequest,
  type CacheResponse,
  type HeaderList,
} from '../../../lib/http/rfc9111/index.js';

const ORIGIN_PORT = Number(process.argv[2]);
/** Heuristic freshness, opt-in in the rules: on unless `no-heuristic`, at 10% of the time since Last-Modified. */
const RULES = process.argv[3] === 'no-heuristic' ? {} : { heuristic: { fraction: 0.1, maxSeconds: 86_400 } };
const MAX_URLS = 10_000;
const MAX_VARIANTS = 8;
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'upgrade']);
const CONDITIONALS = new Set(['if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since']);

interface Stored {
  response: CacheResponse;
  body: Buffer;
  /** The request's values of the fields the response varies on. */
  selecting: HeaderList;
}

interface Fetched {
  response: CacheResponse;
  body: Buffer;
}

/** Stored responses by URL, oldest URL first (a Map keeps insertion order): bounded. */
const store = new Map<string, Stored[]>();
/** Background revalidations running, by URL: one at a time per URL. */
const refreshing = new Set<string>();

function pairs(raw: string[]): HeaderList {
  const list: Array<[string, string]> = [];
  for (let i = 0; i < raw.length; i += 2) list.push([raw[i]!, raw[i + 1]!]);
  return list;
}

function forward(request: CacheRequest, body: Buffer): Promise<Fetched> {
  const requestedAt = Date.now();
  const path = new URL(request.url).pathname + new URL(request.url).search;
  const headers: Record<string, string[]> = {};
  for (const [name, value] of withoutFields(request.headers, new Set([...HOP_BY_HOP, 'host']))) {
    (headers[name.toLowerCase()] ??= []).push(value);
  }
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest({ host: '127.0.0.1', port: ORIGIN_PORT, method: request.method, path, headers });
    outgoing.on('response', (answer: IncomingMessage) => {
      const receivedAt = Date.now();
      const chunks: Buffer[] = [];
      answer.on('data', (chunk: Buffer) => chunks.push(chunk));
      answer.on('end', () =>
        resolve({
          response: { status: answer.statusCode!, headers: pairs(answer.rawHeaders), requestedAt, receivedAt },
          body: Buffer.concat(chunks),
        }),
      );
    });
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

function send(out: ServerResponse, status: number, headers: HeaderList, body: Buffer | undefined): void {
  const sent = withoutFields(headers, new Set([...HOP_BY_HOP, 'content-length']));
  const length = body === undefined ? [] : [['Content-Length', String(body.length)]];
  out.writeHead(status, [...sent, ...length].flat());
  out.end(body);
}

function serveStored(request: CacheRequest, stored: Stored, out: ServerResponse): void {
  const headers: HeaderList = [
    ...stored.response.headers.filter(([name]) => name.toLowerCase() !== 'age'),
    ['Age', ageToSend(stored.response, Date.now())],
  ];
  if (answersNotModified(request, stored.response)) {
    return send(out, 304, withoutFields(headers, NOT_IN_304), undefined);
  }
  send(out, stored.response.status, headers, request.method === 'HEAD' ? undefined : stored.body);
}

function keep(request: CacheRequest, fetched: Fetched): void {
  if (request.method !== 'GET' || !decideStore(request, fetched.response, RULES).store) return;
  const selecting = selectingFields(fetched.response.headers, request.headers);
  if (selecting === '*') return;
  const variants = (store.get(request.url) ?? []).filter(
    (entry) => !varyMatches(entry.response.headers, entry.selecting, request.headers),
  );
  const response = { ...fetched.response, headers: fieldsToStore(fetched.response.headers) };
  store.delete(request.url);
  store.set(request.url, [{ response, body: fetched.body, selecting }, ...variants].slice(0, MAX_VARIANTS));
  if (store.size > MAX_URLS) store.delete(store.keys().next().value!);
}

function replaceStored(url: string, old: Stored, replacement: Stored | undefined): void {
  const variants = (store.get(url) ?? []).filter((entry) => entry !== old);
  if (replacement !== undefined) variants.unshift(replacement);
  store.set(url, variants);
}

/** Revalidates `stored`; resolves with what to answer: the stored response (freshened) or a new one. */
async function revalidate(request: CacheRequest, stored: Stored): Promise<Stored | Fetched> {
  const conditional: CacheRequest = {
    ...request,
    method: 'GET',
    headers: [...withoutFields(request.headers, CONDITIONALS), ...conditionalFields(stored.response)],
  };
  const fetched = await forward(conditional, Buffer.alloc(0));
  if (fetched.response.status === 304) {
    // §4.3.4: a 304 that names another representation updates nothing; it still says the one
    // asked about (ours) is current.
    if (!describesStored(stored.response, fetched.response)) return stored;
    const freshened = { ...stored, response: freshenedWith(stored.response, fetched.response) };
    replaceStored(request.url, stored, freshened);
    return freshened;
  }
  if (ERROR_STATUSES_FOR_STALE.has(fetched.response.status)) return fetched;
  replaceStored(request.url, stored, undefined);
  keep({ ...request, method: 'GET' }, fetched);
  return fetched;
}

async function handle(incoming: IncomingMessage, out: ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of incoming) chunks.push(chunk as Buffer);
  const request: CacheRequest = {
    method: incoming.method!,
    url: `http://${incoming.headers.host}${incoming.url}`,
    headers: pairs(incoming.rawHeaders),
  };
  const now = Date.now();
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    const fetched = await forward(request, Buffer.concat(chunks));
    for (const target of invalidationTargets(request, fetched.response)) store.delete(target);
    return send(out, fetched.response.status, fetched.response.headers, fetched.body);
  }
  const stored = store
    .get(request.url)
    ?.find((entry) => varyMatches(entry.response.headers, entry.selecting, request.headers));
  const decision = stored === undefined ? undefined : decideReuse(request, stored.response, now, RULES);
  if (stored !== undefined && (decision?.use === 'stored' || decision?.use === 'stale-while-revalidate')) {
    serveStored(request, stored, out);
    if (decision.use === 'stale-while-revalidate' && !refreshing.has(request.url)) {
      refreshing.add(request.url);
      void revalidate(request, stored)
        .catch(() => undefined)
        .finally(() => refreshing.delete(request.url));
    }
    return;
  }
  if (decision?.use === 'gateway-timeout' || (stored === undefined && requestPolicy(request).onlyIfCached)) {
    return send(out, 504, [], Buffer.alloc(0));
  }
  if (stored !== undefined && decision?.use === 'revalidate' && canRevalidate(stored.response)) {
    let answer: Stored | Fetched | undefined;
    try {
      answer = await revalidate(request, stored);
    } catch {
      answer = undefined; // the origin could not be reached
    }
    if (answer !== undefined && 'selecting' in answer) return serveStored(request, answer, out);
    if (answer === undefined && mayServeStaleWhenDisconnected(stored.response)) {
      return serveStored(request, stored, out);
    }
    const failed = answer === undefined || ERROR_STATUSES_FOR_STALE.has(answer.response.status);
    if (failed && mayServeStaleOnError(request, stored.response, Date.now(), RULES)) {
      return serveStored(request, stored, out);
    }
    if (answer === undefined) return send(out, 502, [], Buffer.alloc(0));
    const body = request.method === 'HEAD' ? undefined : answer.body;
    return send(out, answer.response.status, answer.response.headers, body);
  }
  let fetched: Fetched;
  try {
    fetched = await forward(request, Buffer.alloc(0));
  } catch {
    const stale = stored !== undefined && mayServeStaleWhenDisconnected(stored.response);
    if (stale || (stored !== undefined && mayServeStaleOnError(request, stored.response, Date.now(), RULES)))
      return serveStored(request, stored, out);
    return send(out, 502, [], Buffer.alloc(0));
  }
  if (
    stored !== undefined &&
    ERROR_STATUSES_FOR_STALE.has(fetched.response.status) &&
    mayServeStaleOnError(request, stored.response, Date.now(), RULES)
  ) {
    return serveStored(request, stored, out);
  }
  if (request.method === 'HEAD' && stored !== undefined) {
    const update = headUpdate(stored.response, fetched.response);
    if ('update' in update) replaceStored(request.url, stored, { ...stored, response: update.update });
    if ('invalidate' in update) replaceStored(request.url, stored, undefined);
  }
  keep(request, fetched);
  send(out, fetched.response.status, fetched.response.headers, request.method === 'HEAD' ? undefined : fetched.body);
}

const server = createServer((incoming, out) => {
  handle(incoming, out).catch(() => {
    if (!out.headersSent) send(out, 500, [], Buffer.alloc(0));
    else out.destroy();
  });
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address() as { port: number };
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${address.port}` })}\n`);
});
process.once('SIGTERM', () => server.close(() => process.exit(0)));
