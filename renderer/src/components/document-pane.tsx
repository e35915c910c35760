import { useState } from 'react';

import type { DocumentSet, EventPayload } from '../../../main/ipc/contract.ts';
import { useAppStore } from '../store/store-context.tsx';
import { SettingsPanel } from './settings.tsx';

function seconds(ms: number): string {
  return ms < 1000 ? 'under a second' : ms < 90_000 ? `about ${Math.round(ms / 1000)} s` : `about ${Math.round(ms / 60_000)} min`;
}

function progressText(p: EventPayload<'doc:progress'>): string {
  const left = p.done >= p.total ? '' : p.etaMs !== undefined ? `, ${seconds(p.etaMs)} left` : ', estimating the time left…';
  switch (p.phase) {
    case 'prefill':
      return `Reading ${p.source} into the model: ${p.done} of ${p.total} tokens${left}`;
    case 'cluster':
      return `Clustering the document keys: ${p.done} of ${p.total}${left}`;
    case 'calibrate':
      return 'Calibrating the sparsity thresholds…';
    default:
      return `Reading ${p.source} (${p.done} of ${p.total})…`;
  }
}

function Progress({ onCancel }: { onCancel: () => void }) {
  const progress = useAppStore((s) => s.progress);
  return (
    <div className="progress">
      <p role="status" aria-label="Processing">
        {progress ? progressText(progress) : 'Reading…'}
      </p>
      <progress aria-label="Processing progress" max={Math.max(1, progress?.total ?? 1)} value={progress?.done ?? 0} />
      <button type="button" onClick={onCancel}>
        Cancel
      </button>
    </div>
  );
}

function PackStatus({ pack }: { pack: NonNullable<DocumentSet['pack']> }) {
  const how = pack.state === 'built' ? `built${pack.buildMs !== undefined ? ` in ${(pack.buildMs / 1000).toFixed(1)} s` : ''}` : `loaded from disk${pack.loadMs !== undefined ? ` in ${Math.round(pack.loadMs)} ms` : ''}`;
  return (
    <p className="pack" aria-label="Document pack">
      Pack {how}, {(pack.bytes / 1e6).toFixed(1)} MB on disk; {pack.fixedTokens} of {pack.contextSize} context tokens.
    </p>
  );
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
      {documents.pack ? <PackStatus pack={documents.pack} /> : <p className="muted">The document pack is built at the first question.</p>}
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
  const cancelOpening = useAppStore((s) => s.cancelOpening);
  const stop = useAppStore((s) => s.stop);
  // A question in a chat whose pack is not open yet (after a restart) builds or loads it first.
  const packForQuestion = useAppStore((s) => s.pending !== undefined && s.progress?.chatId === s.pending.chatId && s.progress.phase !== 'read');
  const [path, setPath] = useState('');
  const open = (kind: 'pdf' | 'folder') => void (canPickFiles ? pickDocuments(kind) : openDocuments(path, kind));
  return (
    <>
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
        {opening && <Progress onCancel={() => void cancelOpening()} />}
        {!opening && packForQuestion && <Progress onCancel={() => void stop()} />}
        {docError && (
          <p role="alert" className="error">
            {docError.message}
          </p>
        )}
        <Documents />
      </section>
      <SettingsPanel />
    </>
  );
}
