import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/**
 * One request exactly as written: any method, a request target supertest would normalise, a
 * body on a GET, `Transfer-Encoding` by hand.
 */
export function rawRequest(
  base: string,
  options: { method?: string; path: string; headers?: Record<string, string>; body?: string },
): Promise<RawResponse> {
  const { hostname, port } = new URL(base);
  const headers = { ...options.headers };
  // Node frames a GET's body only when told how.
  if (options.body !== undefined && headers['transfer-encoding'] === undefined) {
    headers['content-length'] ??= String(Buffer.byteLength(options.body));
  }
  return new Promise((resolve, reject) => {
    const sent = httpRequest(
      { hostname, port, method: options.method ?? 'GET', path: options.path, headers, agent: false },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode!, headers: response.headers, text: Buffer.concat(chunks).toString() }),
        );
        response.on('error', reject);
      },
    );
    sent.on('error', reject);
    sent.end(options.body);
  });
}
