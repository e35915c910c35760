// The user's answer settings, kept in <dataDir>/settings.json. A missing, damaged or foreign file
// gives the defaults (every field validated by the contract's schema), never a failed start.
import * as fsp from 'node:fs/promises';
import path from 'node:path';

import { ladder } from '../engine/doc-chat.ts';
import { systemInfo as engineSystemInfo } from '../engine/engine.ts';
import { Settings, type SystemInfo } from '../ipc/contract.ts';
import { writeFileAtomic } from './atomic-file.ts';

/** 80%: between the paper's loss-free 70% and its 8x KV cut at 90% (the engine's ladder has it). */
const DEFAULT_SPARSITY = 0.8;
/** More threads than this gain little for decode on desktop CPUs and starve the UI's process. */
const MAX_DEFAULT_THREADS = 8;

export function systemInfo(): SystemInfo {
  const info = engineSystemInfo();
  const cuda = info.cuda;
  const available = cuda.compiled && cuda.devices > 0;
  let reason: string | undefined;
  if (!cuda.compiled) reason = 'This build of the engine has no CUDA support.';
  else if (!available) reason = `No usable NVIDIA GPU was found${cuda.device ? ` (${cuda.device})` : ''}.`;
  return {
    hardwareThreads: info.hardwareThreads,
    gpu: { available, ...(reason && { reason }), ...(available && cuda.device && { device: cuda.device }) },
    sparsities: ladder(info.squeezeSparsities),
  };
}

export class SettingsStore {
  private readonly file: string;
  private current?: Settings;

  constructor(dataDir: string, private readonly system: SystemInfo = systemInfo()) {
    this.file = path.join(dataDir, 'settings.json');
  }

  get systemInfo(): SystemInfo {
    return this.system;
  }

  defaults(): Settings {
    return {
      attention: 'squeezed',
      sparsity: DEFAULT_SPARSITY,
      threads: Math.max(1, Math.min(this.system.hardwareThreads, MAX_DEFAULT_THREADS)),
      gpu: this.system.gpu.available,
    };
  }

  async get(): Promise<Settings> {
    if (this.current) return this.current;
    let stored: unknown;
    try {
      stored = JSON.parse(await fsp.readFile(this.file, 'utf8'));
    } catch {
      stored = undefined;
    }
    const parsed = Settings.partial().safeParse(stored);
    this.current = this.usable({ ...this.defaults(), ...(parsed.success ? parsed.data : {}) });
    return this.current;
  }

  async update(change: Partial<Settings>): Promise<Settings> {
    const next = this.usable({ ...(await this.get()), ...change });
    await writeFileAtomic(this.file, JSON.stringify(next));
    this.current = next;
    return next;
  }

  /** The GPU stays off where there is none, whatever was stored or asked. */
  private usable(settings: Settings): Settings {
    return { ...settings, gpu: settings.gpu && this.system.gpu.available };
  }
}
