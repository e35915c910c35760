// What the app and the CLI open: a path that is a PDF, a text file or a folder.

import * as fsp from 'node:fs/promises';
import path from 'node:path';
import { DocumentError } from './document.ts';
import { readFileDocument } from './file.ts';
import { readFolder, type FolderOptions, type FolderResult } from './folder.ts';
import { fileReadError } from './pdf.ts';

export * from './document.ts';
export { readFileDocument, DEFAULT_MAX_FILE_BYTES, type FileOptions, type FileFs } from './file.ts';
export { readFolder, type FolderOptions, type FolderResult, type FolderProgress, type FolderFs } from './folder.ts';
export { readPdf, readPdfFile, type PdfOptions } from './pdf.ts';
export { readTextBytes, paginateText, DEFAULT_LINES_PER_PAGE, type TextOptions } from './text-file.ts';
export { readDocx, type DocxOptions } from './docx.ts';
export { citePages, NEUTRAL_QUESTION, type PageSourceMap, type PageCitation } from './citations.ts';
export {
  planDocuments,
  assertPlanFits,
  selectDocuments,
  describePlan,
  readBuildRate,
  recordBuildRate,
  type DocumentPlan,
  type PlannedDocument,
  type PlanOptions,
  type BuildRate,
} from './plan.ts';
export { buildFixedContext, locate, type FixedContext, type FixedContextOptions, type ContextSpan, type DocumentTokens } from './fixed-context.ts';

export interface OpenOptions extends FolderOptions {
  /** the password of an encrypted PDF (single files only; encrypted PDFs in a folder are skipped) */
  password?: string;
}

/**
 * Reads a file or a folder. A single file that cannot be read throws its DocumentError (the user
 * opened exactly that file); in a folder, such files are listed in `skipped` instead.
 */
export async function openDocuments(target: string, options: OpenOptions = {}): Promise<FolderResult> {
  const name = path.basename(path.resolve(target));
  let stats;
  try {
    stats = await fsp.stat(target);
  } catch (e) {
    throw fileReadError(name, e);
  }
  if (stats.isDirectory()) return readFolder(target, options);
  if (!stats.isFile()) throw new DocumentError('FILE_UNREADABLE', `${name} is not a regular file.`);
  const document = await readFileDocument(target, name, options);
  return { root: target, documents: [document], skipped: document.skipped, ignored: 0 };
}
