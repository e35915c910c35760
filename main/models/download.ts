// Downloads one URL to a file, resumably: bytes go to `<dest>.part` (its origin recorded beside it in
// `<dest>.part.json`), a later call continues it with an HTTP Range request guarded by If-Range, and
// only a complete file whose sha256 matches is renamed to `dest` (atomic on one file system).
// Interrupted or cancelled transfers keep the .part for the next call; a wrong hash deletes it.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import * as fsp from 'node:fs/promises';

import { AppError } from '../ipc/router.ts';

export interface DownloadProgress {
  received: number;
  /** null when the server does not say */
  total: number | null;
}

export interface DownloadOptions {
  url: string;
  dest: string;
  /** lowercase hex; when given, a file with another hash is an error and is deleted */
  sha256?: string;
  signal?: AbortSignal;
  onProgress?: (progress: DownloadProgress) => void;
}

export interface DownloadResult {
  path: string;
  sha256: string;
  bytes: number;
  /** bytes taken from an earlier, interrupted transfer */
  resumedFrom: number;
}

/** What identifies the partial file's origin, so a resume never splices two different files. */
interface PartInfo {
  url: string;
  validator?: string;
}

const PROGRESS_INTERVAL_MS = 200;

export function checkDownloadUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new AppError('DOWNLOAD_BAD_URL', `"${url.slice(0, 200)}" is not a URL.`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new AppError('DOWNLOAD_BAD_URL', `Only http and https downloads are possible, not ${parsed.protocol}`);
  }
  return parsed;
}

async function readPartInfo(path: string): Promise<PartInfo | undefined> {
  try {
    const info = JSON.parse(await fsp.readFile(path, 'utf8')) as Partial<PartInfo>;
    return typeof info.url === 'string' ? { url: info.url, validator: typeof info.validator === 'string' ? info.validator : undefined } : undefined;
  } catch {
    return undefined;
  }
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await fsp.stat(path)).size;
  } catch {
    return 0;
  }
}

async function hashFileInto(hash: Hash, path: string): Promise<void> {
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
}

/** The part already on disk that may be continued: same URL and a validator to send as If-Range. */
async function resumablePart(partPath: string, infoPath: string, url: string): Promise<{ bytes: number; validator: string } | undefined> {
  const info = await readPartInfo(infoPath);
  const bytes = await sizeOf(partPath);
  if (!info || info.url !== url || !info.validator || bytes === 0) return undefined;
  return { bytes, validator: info.validator };
}

function contentRangeStart(header: string | null): number | undefined {
  const match = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(header ?? '');
  return match ? Number(match[1]) : undefined;
}

function totalLength(response: Response, offset: number): number | null {
  const range = /\/(\d+)$/.exec(response.headers.get('content-range') ?? '');
  if (range) return Number(range[1]);
  const length = response.headers.get('content-length');
  return length === null ? null : offset + Number(length);
}

function write(stream: WriteStream, chunk: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => stream.write(chunk, (e) => (e ? reject(e) : resolve())));
}

function close(stream: WriteStream): Promise<void> {
  return new Promise((resolve, reject) => stream.end((e?: Error | null) => (e ? reject(e) : resolve())));
}

async function request(url: string, headers: Record<string, string>, signal?: AbortSignal): Promise<Response> {
  try {
    return await fetch(url, { headers, signal, redirect: 'follow' });
  } catch (e) {
    if (signal?.aborted) throw new AppError('DOWNLOAD_CANCELLED', 'The download was cancelled.');
    const reason = (e as { cause?: { message?: string } }).cause?.message ?? (e as Error).message;
    throw new AppError('DOWNLOAD_NETWORK', `Could not reach ${new URL(url).host}: ${reason}`);
  }
}

async function removePart(partPath: string, infoPath: string): Promise<void> {
  await Promise.all([fsp.rm(partPath, { force: true }), fsp.rm(infoPath, { force: true })]);
}

export async function downloadFile(options: DownloadOptions): Promise<DownloadResult> {
  const { url, dest, signal, onProgress } = options;
  checkDownloadUrl(url);
  const expected = options.sha256?.toLowerCase();
  const partPath = `${dest}.part`;
  const infoPath = `${dest}.part.json`;

  const part = await resumablePart(partPath, infoPath, url);
  const headers: Record<string, string> = part ? { range: `bytes=${part.bytes}-`, 'if-range': part.validator } : {};
  const response = await request(url, headers, signal);
  if (response.status === 416 && part) {
    // The part is no longer a prefix of what the server has (or is already whole): start over.
    await response.body?.cancel();
    await removePart(partPath, infoPath);
    return downloadFile(options);
  }
  if (response.status !== 200 && response.status !== 206) {
    await response.body?.cancel();
    throw new AppError('DOWNLOAD_HTTP', `The server answered ${response.status} ${response.statusText} for ${url}`);
  }
  const resumed = response.status === 206 && part !== undefined && contentRangeStart(response.headers.get('content-range')) === part.bytes;
  if (response.status === 206 && !resumed) {
    await response.body?.cancel();
    throw new AppError('DOWNLOAD_HTTP', `The server sent a range that was not asked for (${response.headers.get('content-range')}).`);
  }
  const offset = resumed ? part.bytes : 0;
  const total = totalLength(response, offset);
  const validator = response.headers.get('etag') ?? response.headers.get('last-modified') ?? undefined;
  await fsp.writeFile(infoPath, JSON.stringify({ url, validator } satisfies PartInfo));

  const hash = createHash('sha256');
  if (resumed) await hashFileInto(hash, partPath);
  const file = createWriteStream(partPath, { flags: resumed ? 'a' : 'w' });
  let received = offset;
  let lastReport = 0;
  try {
    for await (const chunk of response.body ?? []) {
      hash.update(chunk);
      await write(file, chunk);
      received += chunk.byteLength;
      if (Date.now() - lastReport >= PROGRESS_INTERVAL_MS) {
        lastReport = Date.now();
        onProgress?.({ received, total });
      }
    }
  } catch (e) {
    await close(file).catch(() => {});
    if (signal?.aborted) throw new AppError('DOWNLOAD_CANCELLED', 'The download was cancelled; starting it again resumes it.');
    throw new AppError('DOWNLOAD_INTERRUPTED', `The download stopped after ${received} bytes (${(e as Error).message}); starting it again resumes it.`);
  }
  await close(file);
  onProgress?.({ received, total });
  if (total !== null && received !== total) {
    throw new AppError('DOWNLOAD_INTERRUPTED', `The download stopped after ${received} of ${total} bytes; starting it again resumes it.`);
  }
  const sha256 = hash.digest('hex');
  if (expected && sha256 !== expected) {
    await removePart(partPath, infoPath);
    throw new AppError('DOWNLOAD_SHA256_MISMATCH', `The downloaded file has sha256 ${sha256}, expected ${expected}; it was deleted.`);
  }
  await fsp.rename(partPath, dest);
  await fsp.rm(infoPath, { force: true });
  return { path: dest, sha256, bytes: received, resumedFrom: offset };
}
