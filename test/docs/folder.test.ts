// Folder walking on real temporary trees: ignore rules, skips with reasons, links, errors, scale.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDocuments, readFolder, isDocumentError, type FolderResult } from '../../main/docs/index.ts';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'docs');

async function tree(files: Record<string, string | Uint8Array>): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), 'squeeze-docs-'));
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, name)), { recursive: true });
    await writeFile(path.join(root, name), content);
  }
  return root;
}

const sources = (r: FolderResult) => r.documents.map((d) => d.source);
const skip = (r: FolderResult, source: string) => r.skipped.find((s) => s.source === source);

async function rejectsWith(promise: Promise<unknown>, code: string, message: RegExp): Promise<unknown> {
  let error: unknown;
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(isDocumentError(e), `expected a DocumentError, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.match(e.message, message);
    error = e;
    return true;
  });
  return error;
}

test('nested .gitignore rules are honoured, deepest rule wins; .git and node_modules always skipped', async () => {
  const root = await tree({
    '.gitignore': '*.log\nbuild/\nsecret.txt\n',
    'a.md': '# A\n',
    'debug.log': 'noise\n',
    'build/out.txt': 'built\n',
    'src/main.ts': 'export const x = 1;\n',
    'src/.gitignore': '!keep.log\ngenerated.ts\n',
    'src/keep.log': 'kept by a deeper negation\n',
    'src/other.log': 'still ignored\n',
    'src/generated.ts': 'ignored by the deeper file\n',
    'docs/secret.txt': 'ignored by the root pattern at any depth\n',
    '.git/HEAD': 'ref: refs/heads/main\n',
    'node_modules/pkg/index.js': 'module.exports = 1;\n',
    'deep/node_modules/x.js': 'x\n',
  });
  try {
    const result = await readFolder(root);
    assert.deepEqual(sources(result), ['.gitignore', 'a.md', 'src/.gitignore', 'src/keep.log', 'src/main.ts']);
    assert.deepEqual(result.skipped, []);
    assert.equal(result.ignored, 8);
    assert.equal(result.documents[3].pages[0].text, 'kept by a deeper negation');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('binary, empty, huge files and bad PDFs are skipped with a code and a reason; the rest is read', async () => {
  const root = await tree({
    'notes.txt': 'The meeting is on Thursday.\n',
    'about-pdf.md': 'A PDF file starts with %PDF-1.7 and this note is text.\n',
    'renamed-pdf': '', // replaced by report.pdf's bytes below: a PDF without a .pdf name
    'image.png': new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]),
    'empty.md': '',
    'big.txt': 'x'.repeat(50_000),
  });
  try {
    await mkdir(path.join(root, 'pdfs'));
    for (const name of ['report.pdf', 'encrypted.pdf', 'corrupt.pdf', 'scanned.pdf']) {
      await copyFile(path.join(fixtures, name), path.join(root, 'pdfs', name));
    }
    await copyFile(path.join(fixtures, 'mixed.pdf'), path.join(root, 'renamed-pdf')); // page 2 is an image
    const result = await readFolder(root, { maxFileBytes: 40_000 });
    assert.deepEqual(sources(result), ['about-pdf.md', 'notes.txt', 'pdfs/report.pdf', 'renamed-pdf']);
    assert.deepEqual(result.documents.map((d) => d.kind), ['text', 'text', 'pdf', 'pdf']);
    assert.equal(result.documents[2].pages.length, 4);
    const codes = Object.fromEntries(result.skipped.map((s) => [s.source, s.code]));
    assert.deepEqual(codes, {
      'big.txt': 'FILE_TOO_LARGE',
      'empty.md': 'FILE_EMPTY',
      'image.png': 'FILE_BINARY',
      'pdfs/corrupt.pdf': 'PDF_CORRUPT',
      'pdfs/encrypted.pdf': 'PDF_ENCRYPTED',
      'pdfs/scanned.pdf': 'PDF_NO_TEXT',
      'renamed-pdf': 'PDF_PAGE_NO_TEXT',
    });
    assert.equal(skip(result, 'renamed-pdf')?.page, 2);
    assert.match(skip(result, 'big.txt')!.reason, /big\.txt is 48\.8 KB, over the 39\.1 KB limit/);
    assert.match(skip(result, 'image.png')!.reason, /binary file/);
    assert.deepEqual(result.skipped.map((s) => s.source), [...result.skipped.map((s) => s.source)].sort());
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('symlink loops and duplicate links are reported once, not followed; broken links are listed', async () => {
  const root = await tree({ 'a/readme.md': 'alpha\n', 'b/data.txt': 'beta\n' });
  try {
    await symlink('..', path.join(root, 'a', 'up')); // a/up → root: a loop
    await symlink(path.join(root, 'b'), path.join(root, 'c')); // c → b: same folder twice
    await symlink('data.txt', path.join(root, 'b', 'alias.txt')); // same file twice
    await symlink('self', path.join(root, 'self')); // points at itself
    await symlink('missing.txt', path.join(root, 'dangling.txt'));
    const result = await readFolder(root);
    assert.deepEqual(sources(result), ['a/readme.md', 'b/data.txt']);
    assert.equal(skip(result, 'a/up')?.code, 'SYMLINK_LOOP');
    assert.match(skip(result, 'a/up')!.reason, /a\/up is a symbolic link to \., which contains it/);
    assert.equal(skip(result, 'self')?.code, 'SYMLINK_LOOP');
    assert.equal(skip(result, 'c')?.code, 'FILE_DUPLICATE');
    assert.match(skip(result, 'b/alias.txt')!.reason, /same file as b\/data\.txt/);
    assert.equal(skip(result, 'dangling.txt')?.code, 'FILE_UNREADABLE');
    assert.match(skip(result, 'dangling.txt')!.reason, /ENOENT/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('unreadable files and folders (EACCES) are skipped with "permission denied"', async () => {
  const root = await tree({ 'ok.txt': 'fine\n', 'locked.txt': 'secret\n', 'closed/inner.txt': 'hidden\n' });
  const denied = (p: string) => Object.assign(new Error(`EACCES: permission denied, open '${p}'`), { code: 'EACCES' });
  try {
    // Tests run as root here, where chmod 000 does not deny reads; the fs errors are injected instead.
    const result = await readFolder(root, {
      fs: {
        readFile: async (p) => (p.endsWith('locked.txt') ? Promise.reject(denied(p)) : readFile(p)),
        readdir: async (p) => (p.endsWith('closed') ? Promise.reject(denied(p)) : readdir(p, { withFileTypes: true })),
      },
    });
    assert.deepEqual(sources(result), ['ok.txt']);
    assert.equal(skip(result, 'locked.txt')?.code, 'FILE_UNREADABLE');
    assert.match(skip(result, 'locked.txt')!.reason, /locked\.txt cannot be read: permission denied/);
    assert.equal(skip(result, 'closed')?.code, 'FILE_UNREADABLE');
    assert.match(skip(result, 'closed')!.reason, /closed cannot be listed \(EACCES\)/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('chmod 000 denies a real read when not running as root', { skip: process.getuid?.() === 0 && 'running as root: chmod does not deny reads' }, async () => {
  const root = await tree({ 'ok.txt': 'fine\n', 'locked.txt': 'secret\n' });
  try {
    await chmod(path.join(root, 'locked.txt'), 0o000);
    const result = await readFolder(root);
    assert.deepEqual(sources(result), ['ok.txt']);
    assert.equal(skip(result, 'locked.txt')?.code, 'FILE_UNREADABLE');
  } finally {
    await chmod(path.join(root, 'locked.txt'), 0o644);
    await rm(root, { recursive: true, force: true });
  }
});

test('an empty folder, or one with nothing readable, → FOLDER_EMPTY listing what was skipped', async () => {
  const empty = await tree({});
  const useless = await tree({ 'zero.txt': '', 'blob.bin': new Uint8Array([0, 1, 2]) });
  try {
    await rejectsWith(readFolder(empty), 'FOLDER_EMPTY', /contains no documents that can be read\.$/);
    const e = (await rejectsWith(readFolder(useless), 'FOLDER_EMPTY', /2 file\(s\) were skipped: 1 binary, 1 empty\.$/)) as { skipped: unknown[] };
    assert.equal(e.skipped.length, 2);
  } finally {
    await rm(empty, { recursive: true, force: true });
    await rm(useless, { recursive: true, force: true });
  }
});

test('10,000 small files: all read, in sorted order, with progress, in reasonable time', async () => {
  const root = await mkdtemp(path.join(tmpdir(), 'squeeze-docs-10k-'));
  try {
    for (let d = 0; d < 100; d++) {
      const dir = path.join(root, `dir-${String(d).padStart(3, '0')}`);
      await mkdir(dir);
      await Promise.all(Array.from({ length: 100 }, (_, f) => writeFile(path.join(dir, `file-${String(f).padStart(3, '0')}.txt`), `Fact ${d * 100 + f}.\n`)));
    }
    let progress = 0;
    const started = performance.now();
    const result = await readFolder(root, { onProgress: (p) => (progress = p.done) });
    const seconds = (performance.now() - started) / 1000;
    assert.equal(result.documents.length, 10_000);
    assert.equal(progress, 10_000);
    assert.equal(result.documents[0].source, 'dir-000/file-000.txt');
    assert.equal(result.documents[9_999].pages[0].text, 'Fact 9999.');
    assert.ok(seconds < 20, `took ${seconds.toFixed(1)} s`);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('cancelling a folder read → CANCELLED', async () => {
  const root = await tree({ 'a.txt': 'a\n', 'b.txt': 'b\n' });
  try {
    const controller = new AbortController();
    controller.abort();
    await rejectsWith(readFolder(root, { signal: controller.signal }), 'CANCELLED', /cancelled/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('openDocuments: a single file throws its own error; a folder or a file gives documents', async () => {
  const root = await tree({ 'zero.txt': '', 'blob.bin': new Uint8Array([0, 1, 2]), 'n.md': 'note\n' });
  try {
    await rejectsWith(openDocuments(path.join(root, 'zero.txt')), 'FILE_EMPTY', /zero\.txt is empty \(0 bytes\)/);
    await rejectsWith(openDocuments(path.join(root, 'blob.bin')), 'FILE_BINARY', /blob\.bin was skipped: binary/);
    await rejectsWith(openDocuments(path.join(root, 'nope')), 'FILE_NOT_FOUND', /nope does not exist/);
    await rejectsWith(openDocuments(path.join(fixtures, 'report.pdf'), { maxFileBytes: 1024 }), 'FILE_TOO_LARGE', /report\.pdf is \d+\.\d KB, over the 1\.0 KB limit\./);
    await rejectsWith(openDocuments(path.join(fixtures, 'encrypted.pdf')), 'PDF_ENCRYPTED', /Enter its password/);
    const pdf = await openDocuments(path.join(fixtures, 'encrypted.pdf'), { password: 'squeeze' });
    assert.match(pdf.documents[0].pages[0].text, /vault combination/);
    const mixed = await openDocuments(path.join(fixtures, 'mixed.pdf'));
    assert.deepEqual(mixed.skipped.map((s) => [s.source, s.page, s.code]), [['mixed.pdf', 2, 'PDF_PAGE_NO_TEXT']]);
    const folder = await openDocuments(root);
    assert.deepEqual(sources(folder), ['n.md']);
    assert.deepEqual(folder.skipped.map((s) => s.code), ['FILE_BINARY', 'FILE_EMPTY']);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
