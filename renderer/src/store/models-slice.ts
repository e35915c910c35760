// The model manager's state: the models on this machine (and the known ones to download), the one
// download in progress with its phase and bytes, and the manager's last error.
import type { Bridge } from '../bridge.ts';
import type { DownloadSource, EventPayload, ModelEntry } from '../../../main/ipc/contract.ts';
import { uiError } from './ui-error.ts';
import type { Slice, UiError } from './types.ts';

export interface DownloadState {
  downloadId: string;
  /** what is being downloaded, as the user named it (a URL or a model's name) */
  label: string;
  phase: EventPayload<'model:download-progress'>['phase'];
  received: number;
  total: number | null;
  cancelling: boolean;
  /** measured since the first progress event (a resumed download starts past zero) */
  bytesPerSecond?: number;
  /** when and at how many bytes the rate is measured from */
  since?: { at: number; received: number };
}

export interface ModelsSlice {
  modelEntries: ModelEntry[];
  modelsDir?: string;
  download?: DownloadState;
  modelsError?: UiError;
  listModels(): Promise<void>;
  /** loads a .gguf by path; the engine's verdict lands in the model status */
  openModelPath(path: string): Promise<void>;
  /** downloads, then loads the model */
  downloadModel(source: DownloadSource, label: string): Promise<void>;
  cancelDownload(): Promise<void>;
  setDownloadProgress(progress: EventPayload<'model:download-progress'>): void;
}

const SHA256 = /^[0-9a-fA-F]{64}$/;

/** The source for what the user typed in the download form, or the error to show them. */
export function urlSource(url: string, sha256: string): DownloadSource | UiError {
  const target = url.trim();
  const hash = sha256.trim();
  if (!target) return { code: 'DOWNLOAD_NO_URL', message: 'Type the URL of a .gguf file first.' };
  if (hash && !SHA256.test(hash)) return { code: 'DOWNLOAD_BAD_SHA256', message: 'A sha256 is 64 hexadecimal digits; leave it empty to skip the check.' };
  return hash ? { kind: 'url', url: target, sha256: hash.toLowerCase() } : { kind: 'url', url: target };
}

export const createModelsSlice =
  (bridge: Bridge, newId: () => string = () => crypto.randomUUID(), now: () => number = () => Date.now()): Slice<ModelsSlice> =>
  (set, get) => ({
    modelEntries: [],

    async listModels() {
      const r = await bridge.invoke('model:list', {});
      if (r.ok) set({ modelEntries: r.data.models, modelsDir: r.data.modelsDir });
      else set({ modelsError: uiError(r) });
    },

    async openModelPath(path) {
      const target = path.trim();
      if (!target) {
        set({ modelsError: { code: 'MODEL_NO_PATH', message: 'Type the path of a .gguf file first.' } });
        return;
      }
      set({ modelsError: undefined });
      await get().loadModel(target);
    },

    async downloadModel(source, label) {
      if (get().download) return;
      const downloadId = newId();
      set({ download: { downloadId, label, phase: 'downloading', received: 0, total: null, cancelling: false }, modelsError: undefined });
      const r = await bridge.invoke('model:download', { downloadId, source });
      set({ download: undefined });
      if (!r.ok) {
        set({ modelsError: uiError(r) });
        return;
      }
      await get().listModels();
      await get().loadModel(r.data.path);
    },

    async cancelDownload() {
      const download = get().download;
      if (!download) return;
      set({ download: { ...download, cancelling: true } });
      const r = await bridge.invoke('model:cancel-download', { downloadId: download.downloadId });
      if (!r.ok) set({ modelsError: uiError(r) });
    },

    setDownloadProgress(progress) {
      const download = get().download;
      if (download?.downloadId !== progress.downloadId) return;
      const since = download.since ?? { at: now(), received: progress.received };
      const seconds = (now() - since.at) / 1000;
      const bytesPerSecond = progress.phase === 'downloading' && seconds > 0 ? (progress.received - since.received) / seconds : undefined;
      set({ download: { ...download, phase: progress.phase, received: progress.received, total: progress.total, since, bytesPerSecond } });
    },
  });
