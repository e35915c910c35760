import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { smollm2Path } from './models.ts';

function withModelDir<T>(dir: string, f: () => T): T {
  const saved = process.env.SQUEEZE_MODEL_DIR;
  process.env.SQUEEZE_MODEL_DIR = dir;
  try {
    return f();
  } finally {
    if (saved === undefined) delete process.env.SQUEEZE_MODEL_DIR;
    else process.env.SQUEEZE_MODEL_DIR = saved;
  }
}

test('smollm2Path names the file in SQUEEZE_MODEL_DIR, or says how to fetch it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'models-'));
  assert.throws(() => withModelDir(dir, smollm2Path), /SmolLM2-135M-Instruct\.Q4_1\.gguf is missing: run `npm run models`/);
  writeFileSync(join(dir, 'SmolLM2-135M-Instruct.Q4_1.gguf'), '');
  assert.equal(withModelDir(dir, smollm2Path), join(dir, 'SmolLM2-135M-Instruct.Q4_1.gguf'));
});
