// A local HTTP server for download tests: serves byte buffers with an ETag and Range support, and can
// misbehave on purpose (cut a transfer short, trickle slowly, ignore ranges, change the file).
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ServedFile {
  body: Buffer;
  /** end the connection after sending this many body bytes (once per request while set) */
  cutAfter?: number;
  /** bytes per 10 ms tick; unset = all at once */
  trickle?: number;
  /** answer every request with the whole file (200), as servers without range support do */
  ignoreRanges?: boolean;
}

export interface FileServer {
  url(name: string): string;
  files: Map<string, ServedFile>;
  /** Range headers received, per file name, in order ('' for none) */
  ranges: Map<string, string[]>;
  close(): Promise<void>;
}

export function etag(body: Buffer): string {
  return `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`;
}

async function send(res: ServerResponse, bytes: Buffer, file: ServedFile): Promise<void> {
  const limit = file.cutAfter ?? bytes.length;
  const step = file.trickle ?? bytes.length;
  for (let at = 0; at < Math.min(limit, bytes.length); at += step) {
    if (res.destroyed) return;
    // Wait for each write to flush: destroying the socket discards what is still buffered.
    await new Promise((r) => res.write(bytes.subarray(at, Math.min(at + step, limit, bytes.length)), r));
    if (file.trickle) await new Promise((r) => setTimeout(r, 10));
  }
  if (limit < bytes.length) res.destroy();
  else res.end();
}

function serve(file: ServedFile, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const tag = etag(file.body);
  const size = file.body.length;
  const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  const ifRange = req.headers['if-range'];
  if (range && !file.ignoreRanges && (ifRange === undefined || ifRange === tag)) {
    const start = Number(range[1]);
    if (start >= size) {
      res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
      return Promise.resolve();
    }
    res.writeHead(206, { etag: tag, 'content-length': size - start, 'content-range': `bytes ${start}-${size - 1}/${size}` });
    return send(res, file.body.subarray(start), file);
  }
  res.writeHead(200, { etag: tag, 'content-length': size, 'accept-ranges': 'bytes' });
  return send(res, file.body, file);
}

export async function startFileServer(): Promise<FileServer> {
  const files = new Map<string, ServedFile>();
  const ranges = new Map<string, string[]>();
  const server = createServer((req, res) => {
    const name = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname.slice(1));
    const file = files.get(name);
    ranges.set(name, [...(ranges.get(name) ?? []), req.headers.range ?? '']);
    if (!file) {
      res.writeHead(404).end('not found');
      return;
    }
    void serve(file, req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (name) => `http://127.0.0.1:${port}/${encodeURIComponent(name)}`,
    files,
    ranges,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
