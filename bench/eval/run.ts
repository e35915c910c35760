// `npm run eval [-- --quick] [--threads N] [--pack-dir DIR] [--out DIR]`: issue 3's accuracy
// evaluation of Squeezed Attention on SmolLM2-135M-Instruct. Prints a table; the full run writes
// bench/results/eval-smollm2-<date>.json and .md (a quick run writes only where --out says).
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { Model } from '../../main/engine/engine.ts';
import { loadAddon } from '../../main/engine/native.ts';
import { smollm2Path } from '../../test/support/models.ts';
import { describeMachine } from '../report.ts';
import { goals, runEval, summarize } from './evaluate.ts';
import { printReport, saveReport, type EvalReport } from './report.ts';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    threads: { type: 'string' },
    'pack-dir': { type: 'string' },
    out: { type: 'string' },
  },
});
const threads = values.threads === undefined ? undefined : Number(values.threads);
if (threads !== undefined && !(Number.isInteger(threads) && threads > 0)) {
  process.stderr.write(`--threads must be a positive integer, got ${values.threads}\n`);
  process.exit(2);
}

const machine = describeMachine();
const load = loadavg().map((x) => x.toFixed(2)).join(' ');
const started = performance.now();
const model = await Model.load(smollm2Path());
const run = await runEval(model, { quick: values.quick, threads, packDir: values['pack-dir'], log: (line) => process.stderr.write(line + '\n') });
const summary = summarize(run);
const report: EvalReport = {
  model: 'SmolLM2-135M-Instruct Q4_1',
  machine: {
    ...machine,
    command: `npm run eval -- ${process.argv.slice(2).join(' ')}`.trim(),
    simd: loadAddon().systemInfo().simd,
    threads: threads ?? loadAddon().systemInfo().hardwareThreads,
    load,
  },
  run,
  summary,
  goals: goals(summary),
  wallSeconds: (performance.now() - started) / 1000,
};
printReport(report);
const dir = values.out ?? (values.quick ? undefined : join(import.meta.dirname, '..', 'results'));
if (dir) {
  const stem = `eval-smollm2${values.quick ? '-quick' : ''}-${machine.date.slice(0, 10)}`;
  const paths = saveReport(report, dir, stem);
  process.stdout.write(`\nwrote ${paths.json} and ${paths.md}\n`);
}
