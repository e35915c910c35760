// The shared shape of ingested documents: what PDF, text and folder readers produce and what the
// fixed context, citations and the UI consume.

export type DocumentKind = 'pdf' | 'docx' | 'text';

export interface DocumentPage {
  /** 1-based: the PDF page number, the page of a .docx (at Word's recorded page breaks), or the
   *  page's position in a text file (or a .docx without breaks) split into pages */
  page: number;
  text: string;
  /** text files (and .docx without page breaks): the 1-based first and last line on this page */
  lines?: [number, number];
}

/** Why something was left out: a whole file (in a folder) or one page of a document. */
export interface SkipNote {
  /** the file, as given by the caller or relative to the folder opened */
  source: string;
  /** set when only one page was left out */
  page?: number;
  code: DocumentErrorCode;
  /** a sentence for the user, naming the file */
  reason: string;
}

export interface Document {
  source: string;
  kind: DocumentKind;
  /** pages in order; a PDF page without text is listed in `skipped`, not here */
  pages: DocumentPage[];
  skipped: SkipNote[];
}

export type DocumentErrorCode =
  | 'PDF_ENCRYPTED'
  | 'PDF_BAD_PASSWORD'
  | 'PDF_CORRUPT'
  | 'PDF_NO_TEXT'
  | 'PDF_PAGE_NO_TEXT'
  | 'DOCX_ENCRYPTED'
  | 'DOCX_CORRUPT'
  | 'FILE_EMPTY'
  | 'FILE_BINARY'
  | 'FILE_TOO_LARGE'
  | 'FILE_UNREADABLE'
  | 'FILE_NOT_FOUND'
  | 'FILE_DUPLICATE'
  | 'SYMLINK_LOOP'
  | 'FOLDER_EMPTY'
  | 'DOCUMENTS_TOO_LARGE'
  | 'CANCELLED';

/** An Error a user can act on, with a stable code for the UI and IPC ({ok:false, code, message}). */
export class DocumentError extends Error {
  readonly code: DocumentErrorCode;
  /** what was skipped before the failure (FOLDER_EMPTY lists every file that was left out) */
  readonly skipped: SkipNote[];
  constructor(code: DocumentErrorCode, message: string, options?: { cause?: unknown; skipped?: SkipNote[] }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DocumentError';
    this.code = code;
    this.skipped = options?.skipped ?? [];
  }
}

export function isDocumentError(e: unknown): e is DocumentError {
  return e instanceof DocumentError;
}
