import { useState } from 'react';

import { useAppStore } from '../store/store-context.tsx';

function Progress() {
  const progress = useAppStore((s) => s.progress);
  return <p role="status">{progress ? `Reading ${progress.source} (${progress.done} of ${progress.total})…` : 'Reading…'}</p>;
}

function Documents() {
  const documents = useAppStore((s) => s.current?.documents);
  if (!documents) return <p className="muted">No documents in this chat. The model answers from its own knowledge.</p>;
  const pages = documents.documents.reduce((n, d) => n + d.pages, 0);
  return (
    <div className="documents" aria-label="Open documents">
      <p>
        <strong>{documents.root.split(/[\\/]/).pop()}</strong>: {documents.documents.length} {documents.documents.length === 1 ? 'file' : 'files'}, {pages}{' '}
        {pages === 1 ? 'page' : 'pages'}
        {documents.tokens !== undefined && `, ${documents.tokens} tokens`}
      </p>
      {documents.kind === 'folder' && (
        <ul>
          {documents.documents.map((d) => (
            <li key={d.source}>
              {d.source} ({d.pages} {d.pages === 1 ? 'page' : 'pages'})
            </li>
          ))}
        </ul>
      )}
      {documents.skipped.length > 0 && (
        <details open>
          <summary>Skipped ({documents.skipped.length})</summary>
          <ul>
            {documents.skipped.map((s) => (
              <li key={`${s.source}#${s.page ?? ''}`}>{s.reason}</li>
            ))}
          </ul>
        </details>
      )}
    </div>
  );
}

export function DocumentPane() {
  const canPickFiles = useAppStore((s) => s.canPickFiles);
  const opening = useAppStore((s) => s.opening);
  const busy = useAppStore((s) => s.pending !== undefined);
  const docError = useAppStore((s) => s.docError);
  const openDocuments = useAppStore((s) => s.openDocuments);
  const pickDocuments = useAppStore((s) => s.pickDocuments);
  const [path, setPath] = useState('');
  const open = (kind: 'pdf' | 'folder') => void (canPickFiles ? pickDocuments(kind) : openDocuments(path, kind));
  return (
    <section className="doc-pane" aria-label="Documents">
      <h2>Documents</h2>
      {!canPickFiles && (
        <label>
          Document path
          <input type="text" value={path} placeholder="/home/me/report.pdf" onChange={(e) => setPath(e.target.value)} spellCheck={false} />
        </label>
      )}
      <div className="row">
        <button type="button" onClick={() => open('pdf')} disabled={opening || busy}>
          Open PDF
        </button>
        <button type="button" onClick={() => open('folder')} disabled={opening || busy}>
          Open folder
        </button>
      </div>
      {opening && <Progress />}
      {docError && (
        <p role="alert" className="error">
          {docError.message}
        </p>
      )}
      <Documents />
    </section>
  );
}
