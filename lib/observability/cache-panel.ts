import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** One cache command made while serving a request, as the panel lists it. */
export interface PanelCall {
  alias: string;
  operation: string;
  /** The key the caller gave; several keys joined by `, `. */
  key: string;
  /** For reads: whether it found. */
  hit?: boolean;
  durationMs: number;
  /** Milliseconds from the start of the request to the start of the call. */
  atMs: number;
  /** What made the call: `@Cacheable UsersService.find`, `@CachePage`, `site cache`, or `low-level`. */
  origin: string;
  error?: string;
}

/** The cache calls of one request. */
export interface PanelRequest {
  id: string;
  method: string;
  url: string;
  startedAt: string;
  calls: PanelCall[];
  /** Calls past the per-request bound, counted but not listed. */
  dropped: number;
}

export interface CachePanelSettings {
  /** Where the panel answers (`/__cache_panel`): `GET <path>`, `GET <path>/<id>`, `GET <path>/panel.js`. */
  path: string;
}

// Bounds on memory, not tuning knobs: the panel is for a developer looking at recent pages.
const REQUESTS_KEPT = 100;
const CALLS_PER_REQUEST = 500;

/**
 * Django Debug Toolbar's cache panel: the cache calls of each recent request, as JSON at
 * `<path>/<id>` (each response names its own in `X-Cache-Panel`), and per-alias totals in the
 * response's `Server-Timing` for browser dev tools.
 */
export class CachePanel {
  private readonly requests = new Map<string, PanelRequest & { started: number }>();

  constructor(readonly settings: CachePanelSettings) {}

  /** Starts collecting a request's calls, forgetting the oldest request past the bound. */
  open(request: IncomingMessage, response: ServerResponse): PanelRequest & { started: number } {
    const record = {
      id: randomUUID(),
      method: request.method ?? 'GET',
      url: request.url ?? '/',
      startedAt: new Date().toISOString(),
      started: performance.now(),
      calls: [],
      dropped: 0,
    };
    if (this.requests.size >= REQUESTS_KEPT) this.requests.delete(this.requests.keys().next().value!);
    this.requests.set(record.id, record);
    addHeadersOnWrite(response, () => [
      ['x-cache-panel', `${this.settings.path}/${record.id}`],
      ['server-timing', serverTimingTotals(record)],
    ]);
    return record;
  }

  record(request: PanelRequest & { started: number }, call: Omit<PanelCall, 'atMs'>, startedAt: number): void {
    if (request.calls.length >= CALLS_PER_REQUEST) {
      request.dropped++;
      return;
    }
    request.calls.push({ ...call, atMs: round(startedAt - request.started) });
  }

  /** Whether the request is one of the panel's own, which it then answers. */
  answers(request: IncomingMessage, response: ServerResponse): boolean {
    const { path } = this.settings;
    const url = request.url ?? '';
    if (request.method !== 'GET' || (url !== path && !url.startsWith(`${path}/`))) return false;
    const rest = url.slice(path.length + 1).split('?')[0]!;
    if (rest === 'panel.js') {
      send(response, 200, 'text/javascript; charset=utf-8', panelScript(path));
    } else if (rest === '') {
      const recent = [...this.requests.values()].map(({ id, method, url, startedAt, calls }) => ({
        id,
        method,
        url,
        startedAt,
        calls: calls.length,
      }));
      send(response, 200, 'application/json', JSON.stringify(recent.reverse()));
    } else {
      const found = this.requests.get(rest);
      if (found === undefined) {
        send(
          response,
          404,
          'application/json',
          JSON.stringify({ error: `No request '${rest}' among the last ${REQUESTS_KEPT}.` }),
        );
      } else {
        // `started` is the clock's, meaningless outside the process.
        send(response, 200, 'application/json', JSON.stringify({ ...found, started: undefined }));
      }
    }
    return true;
  }
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;

function send(response: ServerResponse, status: number, type: string, body: string): void {
  response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  response.end(body);
}

/**
 * `cache-default;desc="3 calls, 2 hits";dur=0.4` per alias, for the calls made before the
 * headers leave, and `cache-panel;desc="<id>"` for the panel's script to find its request.
 */
export function serverTimingTotals(request: PanelRequest): string {
  const byAlias = new Map<string, { calls: number; hits: number; ms: number }>();
  for (const call of request.calls) {
    let totals = byAlias.get(call.alias);
    if (totals === undefined) byAlias.set(call.alias, (totals = { calls: 0, hits: 0, ms: 0 }));
    totals.calls++;
    if (call.hit === true) totals.hits++;
    totals.ms += call.durationMs;
  }
  const entries = [...byAlias].map(([alias, { calls, hits, ms }]) => {
    const desc = `${calls} ${calls === 1 ? 'call' : 'calls'}, ${hits} ${hits === 1 ? 'hit' : 'hits'}`;
    return `cache-${alias.replace(/[^\w!#$%&'*+.^`|~-]/g, '_')};desc="${desc}";dur=${ms.toFixed(2)}`;
  });
  entries.push(`cache-panel;desc="${request.id}"`);
  return entries.join(', ');
}

type WriteHead = (this: ServerResponse, ...args: unknown[]) => ServerResponse;

/**
 * Adds headers when a response's head is written, whoever writes it: Node's implicit head (a
 * `write` or `end` first) goes through `writeHead` too. Headers the writer passes to `writeHead`
 * win over `setHeader`'s, so a `Server-Timing` among them is appended to rather than replaced.
 */
function addHeadersOnWrite(response: ServerResponse, headers: () => Array<[string, string]>): void {
  const writeHead = response.writeHead as unknown as WriteHead;
  response.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    response.writeHead = writeHead as unknown as ServerResponse['writeHead'];
    const passed = args.slice(1).find((arg) => typeof arg === 'object' && arg !== null && !Array.isArray(arg)) as
      Record<string, unknown> | undefined;
    for (const [name, value] of headers()) {
      const given = passed && Object.keys(passed).find((candidate) => candidate.toLowerCase() === name);
      if (given !== undefined) {
        passed![given] = `${String(passed![given])}, ${value}`;
        continue;
      }
      const existing = this.getHeader(name);
      this.setHeader(name, existing === undefined ? value : `${String(existing)}, ${value}`);
    }
    return writeHead.apply(this, args);
  } as ServerResponse['writeHead'];
}

/**
 * The page's panel, like the debug toolbar's: finds this document's request in its `Server-Timing`
 * (the browser keeps it on the navigation entry) and lists its cache calls. One `<script src>`.
 */
function panelScript(path: string): string {
  return `(() => {
  const [nav] = performance.getEntriesByType('navigation');
  const entry = ((nav && nav.serverTiming) || []).find((e) => e.name === 'cache-panel');
  if (!entry) return;
  fetch(${JSON.stringify(path)} + '/' + entry.description).then((r) => r.json()).then((request) => {
    const panel = document.createElement('section');
    panel.id = 'cache-panel';
    panel.setAttribute('style', 'position:fixed;left:0;right:0;bottom:0;max-height:45vh;overflow:auto;box-sizing:border-box;background:#fffdf3;border:1px solid #cb9;font:12px ui-monospace,monospace;padding:6px 10px;box-shadow:0 0 8px #0003;z-index:2147483647');
    const hits = request.calls.filter((c) => c.hit === true).length;
    const ms = request.calls.reduce((sum, c) => sum + c.durationMs, 0);
    const title = document.createElement('strong');
    title.textContent = 'Cache: ' + request.calls.length + ' calls, ' + hits + ' hits, ' + ms.toFixed(2) + ' ms' + (request.dropped ? ' (' + request.dropped + ' not listed)' : '');
    const table = document.createElement('table');
    const row = (cells, tag) => {
      const tr = table.insertRow();
      // Keys may be long: only the key column wraps, the others keep their words whole.
      cells.forEach((text, i) => { const td = document.createElement(tag); td.textContent = text; td.style.padding = '1px 6px'; if (i === 2) td.style.overflowWrap = 'anywhere'; else td.style.whiteSpace = 'nowrap'; tr.append(td); });
    };
    row(['alias', 'operation', 'key', 'result', 'ms', 'by'], 'th');
    for (const c of request.calls) {
      row([c.alias, c.operation, c.key, c.error ? 'error' : c.hit === undefined ? '' : c.hit ? 'hit' : 'miss', c.durationMs.toFixed(3), c.origin], 'td');
    }
    panel.append(title, table);
    document.body.append(panel);
  });
})();
`;
}
