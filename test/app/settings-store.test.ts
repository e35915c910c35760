// Settings on disk: defaults from the machine, kept across restarts, damaged files ignored, and the
// GPU never switched on where there is none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { SettingsStore, systemInfo } from '../../main/app/settings-store.ts';
import type { SystemInfo } from '../../main/ipc/contract.ts';

const noGpu: SystemInfo = { hardwareThreads: 16, gpu: { available: false, reason: 'This build of the engine has no CUDA support.' } };
const withGpu: SystemInfo = { hardwareThreads: 4, gpu: { available: true, device: 'NVIDIA H100' } };
const fresh = () => mkdtempSync(path.join(tmpdir(), 'squeeze-settings-'));

test('defaults: squeezed at 80%, threads capped at 8 and at the machine, GPU where there is one', async () => {
  assert.deepEqual(await new SettingsStore(fresh(), noGpu).get(), { attention: 'squeezed', sparsity: 0.8, threads: 8, gpu: false });
  assert.deepEqual(await new SettingsStore(fresh(), withGpu).get(), { attention: 'squeezed', sparsity: 0.8, threads: 4, gpu: true });
});

test('changes are written atomically and read back by the next start', async () => {
  const dir = fresh();
  const store = new SettingsStore(dir, withGpu);
  assert.deepEqual(await store.update({ attention: 'dense', sparsity: 0.95, threads: 2, gpu: false }), { attention: 'dense', sparsity: 0.95, threads: 2, gpu: false });
  assert.deepEqual(readdirSync(dir), ['settings.json']);
  assert.deepEqual(await new SettingsStore(dir, withGpu).get(), { attention: 'dense', sparsity: 0.95, threads: 2, gpu: false });
});

test('the GPU stays off without one, whatever is asked or stored', async () => {
  const dir = fresh();
  writeFileSync(path.join(dir, 'settings.json'), JSON.stringify({ gpu: true, threads: 3 }));
  const store = new SettingsStore(dir, noGpu);
  assert.deepEqual(await store.get(), { attention: 'squeezed', sparsity: 0.8, threads: 3, gpu: false });
  assert.equal((await store.update({ gpu: true })).gpu, false);
  assert.equal(JSON.parse(readFileSync(path.join(dir, 'settings.json'), 'utf8')).gpu, false);
});

test('a damaged or foreign settings file gives the defaults', async () => {
  for (const text of ['{not json', JSON.stringify({ sparsity: 1.5 }), JSON.stringify([1, 2]), JSON.stringify({ threads: -1 })]) {
    const dir = fresh();
    writeFileSync(path.join(dir, 'settings.json'), text);
    assert.deepEqual(await new SettingsStore(dir, noGpu).get(), { attention: 'squeezed', sparsity: 0.8, threads: 8, gpu: false }, text);
  }
});

test("the machine's GPU state and the sparsities new packs are calibrated for come from the engine", () => {
  const info = systemInfo();
  assert.ok(info.hardwareThreads >= 1);
  assert.deepEqual(info.sparsities, [0.5, 0.7, 0.8, 0.9, 0.95]);
  if (!info.gpu.available) assert.ok(info.gpu.reason && info.gpu.reason.length > 10, info.gpu.reason);
});
