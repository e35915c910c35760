// One file → one document: PDFs (by name or signature) through pdf.ts, Word files (.docx) through
// docx.ts, everything else as text.
// The folder walk and the single-file open share it, so both apply the same limits and messages.

import type { Stats } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { DocumentError, type Document } from './document.ts';
import { readDocx } from './docx.ts';
import { fileReadError, looksLikePdf, readPdf } from './pdf.ts';
import { readTextBytes, type TextOptions } from './text-file.ts';

export const DEFAULT_MAX_FILE_BYTES = 20 * 1024 * 1024;

/** The file-system calls reading a file makes; tests replace one to simulate errors root cannot get. */
export interface FileFs {
  stat(file: string): Promise<Stats>;
  readFile(file: string): Promise<Uint8Array>;
}

const nodeFs: FileFs = {
  stat: (file) => fsp.stat(file),
  readFile: (file) => fsp.readFile(file),
};

export interface FileOptions extends TextOptions {
  /** files larger than this are not read; default 20 MB */
  maxFileBytes?: number;
  /** the password of an encrypted PDF */
  password?: string;
  signal?: AbortSignal;
  fs?: Partial<FileFs>;
}

/** Throws DocumentError: FILE_TOO_LARGE, FILE_EMPTY, FILE_BINARY, FILE_NOT_FOUND, FILE_UNREADABLE, PDF_*, DOCX_*, CANCELLED. */
export async function readFileDocument(file: string, source: string, options: FileOptions = {}): Promise<Document> {
  const fs = { ...nodeFs, ...options.fs };
  const maxBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  let bytes: Uint8Array;
  try {
    const stats = await fs.stat(file);
    if (stats.size > maxBytes) {
      throw new DocumentError('FILE_TOO_LARGE', `${source} is ${formatSize(stats.size)}, over the ${formatSize(maxBytes)} limit.`);
    }
    bytes = await fs.readFile(file);
  } catch (e) {
    throw e instanceof DocumentError ? e : fileReadError(source, e);
  }
  if (bytes.length > 0 && (source.toLowerCase().endsWith('.pdf') || looksLikePdf(bytes))) {
    return readPdf(bytes, { source, password: options.password, signal: options.signal });
  }
  if (bytes.length > 0 && source.toLowerCase().endsWith('.docx')) return readDocx(bytes, source, options);
  return readTextBytes(bytes, source, options);
}

export function formatSize(bytes: number): string {
  return bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KB` : `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}
