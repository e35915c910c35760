// The loaded model and its one session. A single session serves every chat: a turn re-renders the
// whole conversation and the engine reuses the cached prefix, so switching chats costs one prefill.
// The model manager's channels (list, download, cancel) are wired here too: both are "the model".
import type { Model, Session } from '../engine/engine.ts';
import type { Handlers, ModelStatus } from '../ipc/contract.ts';
import { AppError } from '../ipc/router.ts';
import { defaultModelPath } from '../models/default-model.ts';
import { describeModel, openModelFile } from '../models/inspect.ts';
import type { ModelManager } from '../models/model-manager.ts';

/** The KV cache size when the caller gives none (the model's training context if smaller). */
const DEFAULT_CONTEXT = 8192;

export interface ModelServiceOptions {
  onStatus: (status: ModelStatus) => void;
  threads?: number;
  contextSize?: number;
  /** where the default model is (the model manager's folders); throws MODEL_NOT_DOWNLOADED */
  defaultModelPath?: () => string;
  /** the user's threads and GPU choice, read whenever the session is made */
  sessionSettings?: () => Promise<SessionSettings>;
}

export interface SessionSettings {
  threads?: number;
  /** run plain chats on the GPU when one takes the model (document answers stay on the CPU squeeze path) */
  gpu?: boolean;
}

export interface LoadedModel {
  model: Model;
  session: Session;
  contextSize: number;
}

export class ModelService {
  private current: ModelStatus = { state: 'none' };
  private loaded?: LoadedModel;
  private lastReady?: ModelStatus;
  private loading?: Promise<ModelStatus>;
  /** set while an answer is generated: the session cannot be replaced under it */
  busy = false;

  constructor(private readonly options: ModelServiceOptions) {}

  get status(): ModelStatus {
    return this.current;
  }

  /** The ready model, or a coded error the user can act on. */
  ready(): LoadedModel {
    if (this.loaded) return this.loaded;
    if (this.current.state === 'loading') throw new AppError('MODEL_LOADING', 'The model is still loading; ask again in a moment.');
    throw new AppError('MODEL_NOT_LOADED', 'No model is loaded: open a .gguf model first.');
  }

  /** Loads `path` (the default model when absent). Failures are reported in the status, not thrown. */
  load(path?: string): Promise<ModelStatus> {
    if (this.busy) return Promise.reject(new AppError('BUSY', 'An answer is being written; stop it before changing the model.'));
    this.loading ??= this.loadNow(path).finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  private async loadNow(path: string | undefined): Promise<ModelStatus> {
    let target = path;
    try {
      target ??= (this.options.defaultModelPath ?? defaultModelPath)();
      this.setStatus({ state: 'loading', path: target });
      const model = await openModelFile(target);
      const contextSize = this.options.contextSize ?? Math.min(model.info.nCtxTrain || DEFAULT_CONTEXT, DEFAULT_CONTEXT);
      const session = await this.createSession(model, contextSize);
      this.loaded = { model, session, contextSize };
      this.lastReady = { state: 'ready', path: target, description: describeModel(model.info), contextSize, device: session.device };
      this.setStatus(this.lastReady);
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      // A failed load keeps the previous model in service.
      this.setStatus({
        ...(this.lastReady ?? { state: 'error' }),
        error: { code: typeof code === 'string' ? code : 'MODEL_LOAD_FAILED', message: e instanceof Error ? e.message : String(e) },
      });
    }
    return this.current;
  }

  /** Makes the session again with the current settings (threads, GPU); its cached conversation goes. */
  async applySettings(): Promise<ModelStatus> {
    if (!this.loaded || !this.lastReady) return this.current;
    if (this.busy) throw new AppError('BUSY', 'An answer is being written; the new settings apply once it ends.');
    const { model, contextSize } = this.loaded;
    const session = await this.createSession(model, contextSize);
    this.loaded = { model, session, contextSize };
    this.lastReady = { ...this.lastReady, device: session.device };
    this.setStatus(this.lastReady);
    return this.current;
  }

  private async createSession(model: Model, contextSize: number): Promise<Session> {
    const settings = (await this.options.sessionSettings?.()) ?? {};
    return model.createSession({ threads: this.options.threads ?? settings.threads, contextSize, backend: settings.gpu ? 'auto' : 'cpu' });
  }

  private setStatus(status: ModelStatus): void {
    this.current = status;
    this.options.onStatus(status);
  }
}

/** The model manager behind its contract channels. */
export function modelManagerHandlers(manager: ModelManager): Pick<Handlers, 'model:list' | 'model:download' | 'model:cancel-download'> {
  return {
    'model:list': async () => ({ modelsDir: manager.modelsDir, models: await manager.list() }),
    'model:download': ({ downloadId, source }) => manager.download(downloadId, source),
    'model:cancel-download': async ({ downloadId }) => ({ cancelled: manager.cancel(downloadId) }),
  };
}
