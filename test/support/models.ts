// Paths of the real models tests run against, fetched by scripts/fetch-models.sh (`npm run models`).
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Directory the fetch script fills: $SQUEEZE_MODEL_DIR or ~/.cache/squeeze/models. */
export function modelDir(): string {
  return process.env.SQUEEZE_MODEL_DIR || join(homedir(), '.cache', 'squeeze', 'models');
}

/** SmolLM2-135M-Instruct Q4_1 (llama arch, 30 layers, GQA 9/3 heads, vocab 49152). */
export function smollm2Path(): string {
  const path = join(modelDir(), 'SmolLM2-135M-Instruct.Q4_1.gguf');
  if (!existsSync(path)) throw new Error(`${path} is missing: run \`npm run models\` to fetch it`);
  return path;
}
