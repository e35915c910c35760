// Whether a file is a model this engine can run, decided by the engine itself: loading maps the file
// and checks its GGUF header, metadata and tensor table (bad files reject with a GGUF_* / MODEL_*
// code naming the bad key or tensor). Weights are not read, so this is fast even for large files.
import { stat } from 'node:fs/promises';

import { Model } from '../engine/engine.ts';
import type { NativeModelInfo } from '../engine/native.ts';
import { AppError } from '../ipc/router.ts';

/** e.g. "llama, 30 layers, 134.5M parameters" */
export function describeModel(info: NativeModelInfo): string {
  return `${info.arch}, ${info.nLayers} layers, ${(info.nParams / 1e6).toFixed(1)}M parameters`;
}

/** Loads `path` after checking it is a readable file; coded errors say what is wrong with it. */
export async function openModelFile(path: string): Promise<Model> {
  let isFile: boolean;
  try {
    isFile = (await stat(path)).isFile();
  } catch {
    throw new AppError('MODEL_FILE_MISSING', `There is no file at ${path}.`);
  }
  if (!isFile) throw new AppError('MODEL_NOT_A_FILE', `${path} is a folder, not a .gguf model file.`);
  return Model.load(path);
}
