// The default model: SmolLM2-135M-Instruct (Q4_1), fetched from PyPI by scripts/fetch-models.sh.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const DEFAULT_MODEL_FILE = 'SmolLM2-135M-Instruct.Q4_1.gguf';

export function modelCacheDir(): string {
  return process.env.SQUEEZE_MODEL_DIR ?? join(homedir(), '.cache', 'squeeze', 'models');
}

/** Path of the default model; throws a coded error telling how to fetch it when it is missing. */
export function defaultModelPath(): string {
  const path = join(modelCacheDir(), DEFAULT_MODEL_FILE);
  if (!existsSync(path)) {
    throw Object.assign(new Error(`the default model is not downloaded (${path}): run \`npm run models\``), {
      code: 'MODEL_NOT_DOWNLOADED',
    });
  }
  return path;
}
