// Resumable downloads against a local HTTP server: ranges, interrupted transfers resumed, wrong
// hashes, cancellation, a file that changed on the server, servers without range support.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { downloadFile, type DownloadProgress } from '../../main/models/download.ts';
import { etag, startFileServer } from './file-server.ts';

const server = await startFileServer();
after(() => server.close());
const dir = mkdtempSync(path.join(tmpdir(), 'squeeze-download-'));
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function serveNew(name: string, bytes = 300_000): Buffer {
  const body = randomBytes(bytes);
  server.files.set(name, { body });
  return body;
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => assert.fail('expected a rejection'),
    (e: unknown) => e as { code?: string },
  );
  return error.code ?? 'NO_CODE';
}

test('a whole file arrives under its final name with its sha256, progress up to the total', async () => {
  const body = serveNew('whole.gguf');
  const dest = path.join(dir, 'whole.gguf');
  const seen: DownloadProgress[] = [];
  const result = await downloadFile({ url: server.url('whole.gguf'), dest, sha256: sha(body).toUpperCase(), onProgress: (p) => seen.push(p) });
  assert.deepEqual(readFileSync(dest), body);
  assert.deepEqual(result, { path: dest, sha256: sha(body), bytes: body.length, resumedFrom: 0 });
  assert.deepEqual(seen.at(-1), { received: body.length, total: body.length });
  assert.equal(existsSync(`${dest}.part`), false);
  assert.equal(existsSync(`${dest}.part.json`), false);
});

test('an interrupted transfer keeps its part and the next call resumes it with a Range request', async () => {
  const body = serveNew('cut.gguf');
  server.files.get('cut.gguf')!.cutAfter = 100_000;
  const dest = path.join(dir, 'cut.gguf');
  assert.equal(await codeOf(downloadFile({ url: server.url('cut.gguf'), dest, sha256: sha(body) })), 'DOWNLOAD_INTERRUPTED');
  assert.equal(existsSync(dest), false);
  const kept = statSync(`${dest}.part`).size;
  assert.ok(kept > 0 && kept <= 100_000, `part of ${kept} bytes`);

  delete server.files.get('cut.gguf')!.cutAfter;
  const result = await downloadFile({ url: server.url('cut.gguf'), dest, sha256: sha(body) });
  assert.equal(result.resumedFrom, kept);
  assert.equal(server.ranges.get('cut.gguf')?.at(-1), `bytes=${kept}-`);
  assert.deepEqual(readFileSync(dest), body);
  assert.equal(result.sha256, sha(body), 'the hash covers the resumed part too');
});

test('a wrong sha256 is an error and leaves no file behind', async () => {
  serveNew('wrong.gguf');
  const dest = path.join(dir, 'wrong.gguf');
  assert.equal(await codeOf(downloadFile({ url: server.url('wrong.gguf'), dest, sha256: '0'.repeat(64) })), 'DOWNLOAD_SHA256_MISMATCH');
  for (const leftover of [dest, `${dest}.part`, `${dest}.part.json`]) assert.equal(existsSync(leftover), false, leftover);
});

test('cancelling stops the transfer, keeps the part, and a later call finishes it', async () => {
  const body = serveNew('slow.gguf', 200_000);
  server.files.get('slow.gguf')!.trickle = 4096;
  const dest = path.join(dir, 'slow.gguf');
  const controller = new AbortController();
  const cancelled = codeOf(
    downloadFile({
      url: server.url('slow.gguf'),
      dest,
      signal: controller.signal,
      onProgress: (p) => p.received > 0 && controller.abort(),
    }),
  );
  assert.equal(await cancelled, 'DOWNLOAD_CANCELLED');
  assert.equal(existsSync(dest), false);
  const kept = statSync(`${dest}.part`).size;
  assert.ok(kept > 0 && kept < body.length, `part of ${kept} bytes`);

  delete server.files.get('slow.gguf')!.trickle;
  const result = await downloadFile({ url: server.url('slow.gguf'), dest, sha256: sha(body) });
  assert.equal(result.resumedFrom, kept);
  assert.deepEqual(readFileSync(dest), body);
});

test('a file that changed on the server since the part was written is fetched again from the start', async () => {
  serveNew('changed.gguf');
  server.files.get('changed.gguf')!.cutAfter = 50_000;
  const dest = path.join(dir, 'changed.gguf');
  assert.equal(await codeOf(downloadFile({ url: server.url('changed.gguf'), dest })), 'DOWNLOAD_INTERRUPTED');
  const fresh = serveNew('changed.gguf');
  const result = await downloadFile({ url: server.url('changed.gguf'), dest, sha256: sha(fresh) });
  assert.equal(result.resumedFrom, 0, 'If-Range did not match, so the server sent the whole new file');
  assert.deepEqual(readFileSync(dest), fresh);
});

test('a server that ignores ranges gets the whole file written from the start', async () => {
  const body = serveNew('norange.gguf');
  server.files.get('norange.gguf')!.cutAfter = 120_000;
  const dest = path.join(dir, 'norange.gguf');
  assert.equal(await codeOf(downloadFile({ url: server.url('norange.gguf'), dest })), 'DOWNLOAD_INTERRUPTED');
  server.files.set('norange.gguf', { body, ignoreRanges: true });
  const result = await downloadFile({ url: server.url('norange.gguf'), dest, sha256: sha(body) });
  assert.equal(result.resumedFrom, 0);
  assert.deepEqual(readFileSync(dest), body);
});

test('a part as long as the file (416 from the server) is fetched again, not trusted', async () => {
  const body = serveNew('whole-part.gguf', 10_000);
  const dest = path.join(dir, 'whole-part.gguf');
  writeFileSync(`${dest}.part`, randomBytes(body.length));
  writeFileSync(`${dest}.part.json`, JSON.stringify({ url: server.url('whole-part.gguf'), validator: etag(body) }));
  const result = await downloadFile({ url: server.url('whole-part.gguf'), dest, sha256: sha(body) });
  assert.deepEqual(server.ranges.get('whole-part.gguf'), [`bytes=${body.length}-`, '']);
  assert.deepEqual(readFileSync(dest), body);
  assert.equal(result.resumedFrom, 0);
});

test('HTTP errors and non-HTTP URLs are coded errors', async () => {
  const dest = path.join(dir, 'missing.gguf');
  assert.equal(await codeOf(downloadFile({ url: server.url('missing.gguf'), dest })), 'DOWNLOAD_HTTP');
  assert.equal(await codeOf(downloadFile({ url: 'file:///etc/passwd', dest })), 'DOWNLOAD_BAD_URL');
  assert.equal(await codeOf(downloadFile({ url: 'not a url', dest })), 'DOWNLOAD_BAD_URL');
  assert.equal(await codeOf(downloadFile({ url: 'http://127.0.0.1:1/x.gguf', dest })), 'DOWNLOAD_NETWORK');
  assert.equal(existsSync(dest), false);
});
