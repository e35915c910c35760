// A folder → documents: walked in sorted order with .gitignore rules (nested files honoured, the
// deepest rule that matches wins, as in git), .git and node_modules always left out, symlinks
// followed once (real paths tracked, so loops and duplicates are reported instead of followed).
// Files are read in parallel but reported in path order, so the same folder gives the same context.

import type { Dirent } from 'node:fs';
import * as fsp from 'node:fs/promises';
import path from 'node:path';
import ignore, { type Ignore } from 'ignore';
import { DocumentError, isDocumentError, type Document, type DocumentErrorCode, type SkipNote } from './document.ts';
import { readFileDocument, type FileFs, type FileOptions } from './file.ts';
import { fileReadError } from './pdf.ts';

/** The file-system calls the walker makes; tests replace one to simulate errors root cannot get. */
export interface FolderFs extends FileFs {
  readdir(dir: string): Promise<Dirent[]>;
  realpath(file: string): Promise<string>;
}

export interface FolderProgress {
  done: number;
  total: number;
  source: string;
}

export interface FolderOptions extends Omit<FileOptions, 'fs' | 'password'> {
  /** files read at once; default 8 */
  concurrency?: number;
  onProgress?: (progress: FolderProgress) => void;
  fs?: Partial<FolderFs>;
}

export interface FolderResult {
  root: string;
  /** in path order; sources are relative to root, with '/' separators */
  documents: Document[];
  /** files, folders and PDF pages left out, with the reason, in path and page order */
  skipped: SkipNote[];
  /** entries left out by .gitignore rules or because they are .git / node_modules */
  ignored: number;
}

const ALWAYS_SKIP = new Set(['.git', 'node_modules']);

const nodeFs: FolderFs = {
  readdir: (dir) => fsp.readdir(dir, { withFileTypes: true }),
  stat: (file) => fsp.stat(file),
  realpath: (file) => fsp.realpath(file),
  readFile: (file) => fsp.readFile(file),
};

interface Rules {
  base: string; // folder of the .gitignore, relative to root ('' for root)
  matcher: Ignore;
}

// A symbolic link found while walking. Links are followed only after the plain tree has been
// walked, so a file or folder reached both directly and through a link is read at its own place.
interface Link {
  full: string;
  source: string;
  real: string;
  realParent: string;
  isDir: boolean;
  rules: Rules[];
}

interface Walk {
  fs: FolderFs;
  files: Array<{ full: string; source: string }>;
  links: Link[];
  skipped: SkipNote[];
  ignored: number;
  seenDirs: Map<string, string>; // real path → source that first reached it
  seenFiles: Map<string, string>;
  signal?: AbortSignal;
}

/** Reads every document under `root`. Throws DocumentError FOLDER_EMPTY (with `skipped`), FILE_NOT_FOUND, FILE_UNREADABLE, CANCELLED. */
export async function readFolder(root: string, options: FolderOptions = {}): Promise<FolderResult> {
  const fs = { ...nodeFs, ...options.fs };
  const name = path.basename(path.resolve(root));
  let realRoot: string;
  try {
    realRoot = await fs.realpath(root);
  } catch (e) {
    throw fileReadError(name, e);
  }
  const walk: Walk = { fs, files: [], links: [], skipped: [], ignored: 0, seenDirs: new Map([[realRoot, '.']]), seenFiles: new Map(), signal: options.signal };
  await walkDir(walk, root, '', realRoot, []);
  for (let i = 0; i < walk.links.length; i++) await followLink(walk, walk.links[i]); // walking a linked folder may queue more
  walk.files.sort((a, b) => compare(a.source, b.source));

  const results = await readAll(walk, options);
  const documents: Document[] = [];
  for (const result of results) {
    if ('pages' in result) {
      documents.push(result);
      walk.skipped.push(...result.skipped);
    } else {
      walk.skipped.push(result);
    }
  }
  const skipped = walk.skipped.sort((a, b) => compare(a.source, b.source) || (a.page ?? 0) - (b.page ?? 0));
  if (documents.length === 0) {
    const why = skipped.length ? ` ${skipped.length} file(s) were skipped: ${summarize(skipped)}.` : '';
    throw new DocumentError('FOLDER_EMPTY', `${name} contains no documents that can be read.${why}`, { skipped });
  }
  return { root, documents, skipped, ignored: walk.ignored };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0; // UTF-16 order, not the locale's: the same on every machine
}

const SKIP_WORDS: Partial<Record<DocumentErrorCode, string>> = {
  FILE_BINARY: 'binary',
  FILE_EMPTY: 'empty',
  FILE_TOO_LARGE: 'too large',
  FILE_UNREADABLE: 'unreadable',
  FILE_DUPLICATE: 'duplicate',
  SYMLINK_LOOP: 'looping link',
  PDF_ENCRYPTED: 'password-protected',
  PDF_CORRUPT: 'damaged',
  PDF_NO_TEXT: 'scanned (no text)',
  DOCX_ENCRYPTED: 'password-protected',
  DOCX_CORRUPT: 'damaged',
};

function summarize(skipped: SkipNote[]): string {
  const counts = new Map<string, number>();
  for (const note of skipped) {
    const words = SKIP_WORDS[note.code] ?? note.code;
    counts.set(words, (counts.get(words) ?? 0) + 1);
  }
  return [...counts].map(([words, n]) => `${n} ${words}`).join(', ');
}

function isIgnored(rules: Rules[], source: string, isDir: boolean): boolean {
  for (let i = rules.length - 1; i >= 0; i--) {
    const { base, matcher } = rules[i];
    const rel = (base ? source.slice(base.length + 1) : source) + (isDir ? '/' : '');
    const verdict = matcher.test(rel);
    if (verdict.ignored) return true;
    if (verdict.unignored) return false;
  }
  return false;
}

async function loadRules(walk: Walk, dir: string, rel: string, entries: Dirent[], rules: Rules[]): Promise<Rules[]> {
  if (!entries.some((e) => e.name === '.gitignore' && !e.isDirectory())) return rules;
  const source = rel ? `${rel}/.gitignore` : '.gitignore';
  try {
    const text = Buffer.from(await walk.fs.readFile(path.join(dir, '.gitignore'))).toString('utf8');
    return [...rules, { base: rel, matcher: ignore().add(text) }];
  } catch (e) {
    walk.skipped.push({ source, code: 'FILE_UNREADABLE', reason: `${source} cannot be read (${codeOf(e)}), so its folder is read without its ignore rules.` });
    return rules;
  }
}

async function walkDir(walk: Walk, dir: string, rel: string, realDir: string, rules: Rules[]): Promise<void> {
  if (walk.signal?.aborted) throw new DocumentError('CANCELLED', 'Reading the folder was cancelled.');
  let entries: Dirent[];
  try {
    entries = await walk.fs.readdir(dir);
  } catch (e) {
    walk.skipped.push({ source: rel || '.', code: 'FILE_UNREADABLE', reason: `The folder ${rel || '.'} cannot be listed (${codeOf(e)}).` });
    return;
  }
  entries.sort((a, b) => compare(a.name, b.name));
  const dirRules = await loadRules(walk, dir, rel, entries, rules);
  for (const entry of entries) {
    if (ALWAYS_SKIP.has(entry.name)) {
      walk.ignored++;
      continue;
    }
    const full = path.join(dir, entry.name);
    const source = rel ? `${rel}/${entry.name}` : entry.name;
    const real = path.join(realDir, entry.name);
    if (entry.isSymbolicLink()) await queueLink(walk, full, source, realDir, dirRules);
    else if (isIgnored(dirRules, source, entry.isDirectory())) walk.ignored++;
    else if (entry.isDirectory()) await enterDir(walk, full, source, real, dirRules);
    else if (entry.isFile()) addFile(walk, full, source, real);
    else walk.skipped.push({ source, code: 'FILE_UNREADABLE', reason: `${source} is not a regular file (a device, socket or pipe).` });
  }
}

async function queueLink(walk: Walk, full: string, source: string, realParent: string, rules: Rules[]): Promise<void> {
  try {
    const target = await walk.fs.stat(full);
    const real = await walk.fs.realpath(full);
    if (target.isDirectory() || target.isFile()) walk.links.push({ full, source, real, realParent, isDir: target.isDirectory(), rules });
    else walk.skipped.push({ source, code: 'FILE_UNREADABLE', reason: `${source} links to something that is not a regular file.` });
  } catch (e) {
    const loop = codeOf(e) === 'ELOOP';
    walk.skipped.push({
      source,
      code: loop ? 'SYMLINK_LOOP' : 'FILE_UNREADABLE',
      reason: loop ? `${source} is a symbolic link that points back to itself.` : `${source} is a symbolic link that cannot be followed (${codeOf(e)}).`,
    });
  }
}

async function followLink(walk: Walk, link: Link): Promise<void> {
  const { full, source, real, realParent, isDir, rules } = link;
  if (isIgnored(rules, source, isDir)) {
    walk.ignored++;
  } else if (!isDir) {
    addFile(walk, full, source, real);
  } else if (realParent === real || realParent.startsWith(real + path.sep)) {
    const target = walk.seenDirs.get(real) ?? real;
    walk.skipped.push({ source, code: 'SYMLINK_LOOP', reason: `${source} is a symbolic link to ${target}, which contains it: following it would never end.` });
  } else {
    await enterDir(walk, full, source, real, rules);
  }
}

function addFile(walk: Walk, full: string, source: string, real: string): void {
  const first = walk.seenFiles.get(real);
  if (first !== undefined) {
    walk.skipped.push({ source, code: 'FILE_DUPLICATE', reason: `${source} is the same file as ${first}.` });
    return;
  }
  walk.seenFiles.set(real, source);
  walk.files.push({ full, source });
}

async function enterDir(walk: Walk, full: string, source: string, real: string, rules: Rules[]): Promise<void> {
  const first = walk.seenDirs.get(real);
  if (first !== undefined) {
    walk.skipped.push({ source, code: 'FILE_DUPLICATE', reason: `${source} is the same folder as ${first}.` });
    return;
  }
  walk.seenDirs.set(real, source);
  await walkDir(walk, full, source, real, rules);
}

async function readAll(walk: Walk, options: FolderOptions): Promise<Array<Document | SkipNote>> {
  const results = new Array<Document | SkipNote>(walk.files.length);
  const concurrency = Math.max(1, options.concurrency ?? 8);
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < walk.files.length) {
      if (walk.signal?.aborted) throw new DocumentError('CANCELLED', 'Reading the folder was cancelled.');
      const i = next++;
      results[i] = await readOne(walk, walk.files[i].full, walk.files[i].source, options);
      options.onProgress?.({ done: ++done, total: walk.files.length, source: walk.files[i].source });
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, walk.files.length) }, worker));
  return results;
}

async function readOne(walk: Walk, full: string, source: string, options: FolderOptions): Promise<Document | SkipNote> {
  try {
    return await readFileDocument(full, source, { ...options, fs: walk.fs });
  } catch (e) {
    if (isDocumentError(e) && e.code === 'CANCELLED') throw e;
    const error = isDocumentError(e) ? e : fileReadError(source, e);
    return { source, code: error.code, reason: error.message };
  }
}

function codeOf(e: unknown): string {
  const code = (e as { code?: unknown })?.code;
  return typeof code === 'string' ? code : e instanceof Error ? e.message : String(e);
}
