// Writes a random-weight GGUF model of a preset shape (test/support/random-model.ts).
//   node --import tsx tools/make-model.ts --preset llama-3.2-1b --type Q4_K [--arch llama] --out F
//     [--seed N] [--layers N] [--embd-type T]
// Prints one JSON line: the file, its size, the shape and the seconds it took.
import { statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { makeRandomModel, type RandomModelSpec, WEIGHT_TYPES, type WeightType } from '../test/support/random-model.ts';

type Shape = Omit<RandomModelSpec, 'weightType' | 'seed' | 'vocab' | 'embdType'>;

// Real models' shapes (vocabulary aside: generated models use SmolLM2's 49152-token vocabulary).
const PRESETS: Record<string, Shape> = {
  'tiny': { arch: 'llama', nLayers: 2, nEmbd: 256, nFf: 512, nHeads: 4, nKvHeads: 2, nCtxTrain: 2048 },
  'smollm2-135m': { arch: 'llama', nLayers: 30, nEmbd: 576, nFf: 1536, nHeads: 9, nKvHeads: 3, nCtxTrain: 8192, ropeFreqBase: 1e5, tiedOutput: true },
  'qwen2.5-0.5b': { arch: 'qwen2', nLayers: 24, nEmbd: 896, nFf: 4864, nHeads: 14, nKvHeads: 2, nCtxTrain: 32768, ropeFreqBase: 1e6, tiedOutput: true },
  'llama-3.2-1b': { arch: 'llama', nLayers: 16, nEmbd: 2048, nFf: 8192, nHeads: 32, nKvHeads: 8, headDim: 64, nCtxTrain: 131072, ropeFreqBase: 5e5, ropeFreqs: true, tiedOutput: true },
  'llama-3.1-8b': { arch: 'llama', nLayers: 32, nEmbd: 4096, nFf: 14336, nHeads: 32, nKvHeads: 8, nCtxTrain: 131072, ropeFreqBase: 5e5, ropeFreqs: true },
};

const USAGE = `usage: make-model --preset ${Object.keys(PRESETS).join('|')} --type ${WEIGHT_TYPES.join('|')} --out FILE
       [--arch llama|qwen2] [--seed N] [--layers N] [--embd-type TYPE]`;

function usage(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

function weightType(v: string | undefined, what: string): WeightType | undefined {
  if (v === undefined) return undefined;
  if (!(WEIGHT_TYPES as readonly string[]).includes(v)) usage(`unknown ${what} ${v}`);
  return v as WeightType;
}

function nonNegativeInt(v: string | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) usage(`${what} must be a non-negative integer, got ${v}`);
  return n;
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        preset: { type: 'string' }, type: { type: 'string' }, arch: { type: 'string' }, out: { type: 'string' },
        seed: { type: 'string' }, layers: { type: 'string' }, 'embd-type': { type: 'string' },
      },
    }));
  } catch (e) {
    usage((e as Error).message);
  }
  const preset = values.preset === undefined ? usage('--preset is required') : PRESETS[values.preset];
  if (!preset) usage(`unknown preset ${values.preset}`);
  const type = weightType(values.type, 'type') ?? usage('--type is required');
  const out = values.out ?? usage('--out is required');
  const arch = values.arch ?? preset.arch;
  if (arch !== 'llama' && arch !== 'qwen2') usage(`unknown arch ${arch}`);

  const spec: RandomModelSpec = {
    ...preset,
    arch,
    // rope_freqs is llama-only; a llama shape built as qwen2 drops it.
    ropeFreqs: arch === 'llama' && preset.ropeFreqs,
    nLayers: nonNegativeInt(values.layers, '--layers') ?? preset.nLayers,
    weightType: type,
    embdType: weightType(values['embd-type'], 'embedding type'),
    seed: nonNegativeInt(values.seed, '--seed') ?? 1,
  };
  const t0 = performance.now();
  const info = await makeRandomModel(out, spec);
  const seconds = (performance.now() - t0) / 1000;
  process.stdout.write(`${JSON.stringify({
    out, bytes: statSync(out).size, seconds: Number(seconds.toFixed(2)), preset: values.preset, type, ...spec, nVocab: info.nVocab,
  })}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`make-model: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
