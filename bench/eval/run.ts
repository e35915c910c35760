// `npm run eval [-- --quick] [--docs eval-2k,eval-8k] [--depths 0.1,0.5,0.9] [--modes s50,o50c,...] [--threads N] [--pack-dir DIR] [--out DIR] [--tag NAME]`:
// issue 3's accuracy evaluation of Squeezed Attention on SmolLM2-135M-Instruct. Prints a table; the
// full run writes bench/results/eval-smollm2-<date>[-<tag>].json and .md (a quick run or a subset of
// the documents or modes writes only where --out says). `--merge A.json B.json ...` reports partial
// runs (subsets run side by side) as one. --modes adds the diagnostic modes (evaluate.ts).
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { Model } from '../../main/engine/engine.ts';
import { loadAddon } from '../../main/engine/native.ts';
import { smollm2Path } from '../../test/support/models.ts';
import { describeMachine } from '../report.ts';
import { goals, mergeRuns, runEval, selectModes, summarize } from './evaluate.ts';
import { printReport, saveReport, type EvalReport } from './report.ts';

const { values, positionals } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    threads: { type: 'string' },
    'pack-dir': { type: 'string' },
    out: { type: 'string' },
    docs: { type: 'string' },
    depths: { type: 'string' },
    modes: { type: 'string' },
    tag: { type: 'string' },
    merge: { type: 'string', multiple: true },
  },
  allowPositionals: true,
});
const threads = values.threads === undefined ? undefined : Number(values.threads);
if (threads !== undefined && !(Number.isInteger(threads) && threads > 0)) {
  process.stderr.write(`--threads must be a positive integer, got ${values.threads}\n`);
  process.exit(2);
}

const machine = describeMachine();
const command = `npm run eval -- ${process.argv.slice(2).join(' ')}`.trim();
const partial = values.quick || values.docs !== undefined || values.depths !== undefined || values.modes !== undefined;
let report: EvalReport;
if (values.merge) {
  const parts = [...values.merge, ...positionals].map((path) => JSON.parse(readFileSync(path, 'utf8')) as EvalReport);
  const run = mergeRuns(parts.map((p) => p.run));
  const summary = summarize(run);
  const commands = parts.map((p) => p.machine.command).join(' & ');
  report = { ...parts[0], machine: { ...parts[0].machine, command: `${commands}, then ${command}` }, run, summary, goals: goals(summary, run.questions.length), wallSeconds: Math.max(...parts.map((p) => p.wallSeconds)) };
} else {
  const load = loadavg().map((x) => x.toFixed(2)).join(' ');
  const started = performance.now();
  const model = await Model.load(smollm2Path());
  const documents = values.docs?.split(',').map((d) => d.trim());
  const depths = values.depths?.split(',').map(Number);
  const modes = values.modes === undefined ? undefined : selectModes(values.modes.split(',').map((m) => m.trim()));
  const run = await runEval(model, { quick: values.quick, documents, depths, threads, modes, packDir: values['pack-dir'], log: (line) => process.stderr.write(line + '\n') });
  const summary = summarize(run);
  const system = loadAddon().systemInfo();
  report = {
    model: 'SmolLM2-135M-Instruct Q4_1',
    machine: { ...machine, command, simd: system.simd, threads: threads ?? system.hardwareThreads, load },
    run,
    summary,
    goals: goals(summary, run.questions.length),
    wallSeconds: (performance.now() - started) / 1000,
  };
}
printReport(report);
const dir = values.out ?? (partial && !values.merge ? undefined : join(import.meta.dirname, '..', 'results'));
if (dir) {
  const subset = values.quick ? '-quick' : values.docs && !values.merge ? `-${values.docs.replace(/,/g, '+')}` : '';
  const tag = values.tag ? `-${values.tag.replace(/[^a-z0-9-]/gi, '-')}` : '';
  const stem = `eval-smollm2${subset}-${machine.date.slice(0, 10)}${tag}`;
  const paths = saveReport(report, dir, stem);
  process.stdout.write(`\nwrote ${paths.json} and ${paths.md}\n`);
}
