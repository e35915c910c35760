import { useEffect, useRef } from 'react';

import type { Citation } from '../../../main/ipc/contract.ts';
import { useAppStore } from '../store/store-context.tsx';

function citationLabel(c: { source: string; page: number; lines?: [number, number] }): string {
  return c.lines ? `${c.source}, lines ${c.lines[0]}–${c.lines[1]}` : `${c.source}, page ${c.page}`;
}

/** The pages an answer drew on (by the attention its tokens gave them), each opening the page text. */
export function Citations({ citations }: { citations: Citation[] }) {
  const showPage = useAppStore((s) => s.showPage);
  return (
    <ul className="citations" aria-label="Citations">
      {citations.map((c) => (
        <li key={`${c.source}#${c.page}`}>
          <button type="button" className="citation" onClick={() => void showPage(c.source, c.page)} title={`${Math.round(100 * c.share)}% of the attention on cited pages`}>
            {citationLabel(c)}
          </button>
        </li>
      ))}
    </ul>
  );
}

/** The text of a cited page, beside the conversation; Escape or Close returns to the chat. */
export function PageViewer() {
  const page = useAppStore((s) => s.page);
  const pageError = useAppStore((s) => s.pageError);
  const closePage = useAppStore((s) => s.closePage);
  const close = useRef<HTMLButtonElement>(null);
  const open = page !== undefined || pageError !== undefined;
  useEffect(() => {
    if (open) close.current?.focus();
  }, [open, page]);
  if (!open) return null;
  const title = page ? citationLabel(page) : 'Page';
  return (
    <aside className="page-viewer" role="dialog" aria-label="Cited page" onKeyDown={(e) => e.key === 'Escape' && closePage()}>
      <header>
        <h2>{title}</h2>
        <button type="button" ref={close} onClick={closePage}>
          Close
        </button>
      </header>
      {page ? <pre className="page-text">{page.text}</pre> : <p role="alert" className="error">{pageError?.message}</p>}
    </aside>
  );
}
