// The evaluation's outputs: a table on stdout, and JSON + Markdown in bench/results/.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { printTable, type Machine } from '../report.ts';
import type { EvalRun, Goal, ModeSummary } from './evaluate.ts';

export interface EvalReport {
  model: string;
  machine: Machine & { simd: string; threads: number; load: string };
  run: EvalRun;
  summary: ModeSummary[];
  goals: Goal[];
  wallSeconds: number;
}

const pct = (x: number) => (Number.isNaN(x) ? '-' : (x * 100).toFixed(1));
const num = (x: number, digits: number) => (Number.isNaN(x) ? '-' : x.toFixed(digits));

function summaryRows(summary: ModeSummary[]): string[][] {
  return summary.map((s) => [
    s.id,
    pct(s.sparsity),
    pct(s.prefillSparsity),
    pct(s.accuracy),
    pct(s.accuracyOnDenseRight),
    pct(s.exactAgreement),
    pct(s.tokenAgreement),
    num(s.meanKl, 4),
    num(s.recall, 3),
    s.recallPerLayer.length ? num(Math.min(...s.recallPerLayer), 3) : '-',
  ]);
}

const SUMMARY_HEADERS = ['mode', 'sparsity %', 'prefill sparsity %', 'accuracy %', 'acc. where dense right %', 'exact = dense %', 'tokens = dense %', 'mean KL', 'recall', 'worst layer recall'];

export function printReport(r: EvalReport): void {
  const nRight = r.run.questions.filter((q) => q.modes.dense.correct).length;
  process.stdout.write(`\n${r.run.questions.length} questions over ${r.run.documents.length} documents; dense answers ${nRight} right\n\n`);
  printTable(SUMMARY_HEADERS, summaryRows(r.summary));
  process.stdout.write('\n');
  for (const g of r.goals) process.stdout.write(`${g.met ? 'met    ' : 'NOT met'}  ${g.goal}: ${g.measured}\n`);
}

export function saveReport(r: EvalReport, dir: string, stem: string): { json: string; md: string } {
  mkdirSync(dir, { recursive: true });
  const json = join(dir, `${stem}.json`);
  const md = join(dir, `${stem}.md`);
  writeFileSync(json, JSON.stringify(r, null, 1) + '\n');
  writeFileSync(md, markdown(r));
  return { json, md };
}

function mdTable(headers: string[], rows: string[][]): string {
  return [`| ${headers.join(' | ')} |`, `|${headers.map(() => '---').join('|')}|`, ...rows.map((row) => `| ${row.join(' | ')} |`)].join('\n') + '\n';
}

function markdown(r: EvalReport): string {
  const m = r.machine;
  const squeezed = r.summary.filter((s) => s.recallPerLayer.length > 0);
  const nLayers = Math.max(0, ...squeezed.map((s) => s.recallPerLayer.length));
  const docs = r.run.documents;
  const bySize = docs.map((d) => {
    const qs = r.run.questions.filter((q) => q.document === d.name);
    return [d.name, String(d.fixedTokens), ...r.run.modes.map((id) => `${qs.filter((q) => q.modes[id].correct).length}/${qs.length}`)];
  });
  return [
    `# Accuracy of Squeezed Attention: ${r.model}`,
    '',
    `- machine: ${m.cpu}, ${m.cores} cores (${m.simd}), ${m.memoryGiB} GiB, ${m.threads} engine threads; load average at start ${m.load} (shared build machine)`,
    `- commit ${m.commit}, ${m.date}; command \`${m.command}\`; ${(r.wallSeconds / 60).toFixed(1)} min`,
    `- ${r.run.questions.length} questions (one planted fact each, depths 10-90%) over ${docs.length} documents; greedy answers of at most ${r.run.maxTokens} tokens`,
    '- accuracy: the answer contains the expected string. Agreement, KL and recall are against the dense answer: KL(dense || mode) of',
    '  the next-token distributions along the dense answer (teacher-forced: question as one batch, then token by token, as in',
    '  generation), recall = share of the dense attention probability over the document that falls on the selected keys, per',
    '  layer, averaged over heads and tokens (question and answer). dense is measured against itself; all = every cluster.',
    '',
    '## Per mode',
    '',
    mdTable(SUMMARY_HEADERS, summaryRows(r.summary)),
    '## Goals (the paper\'s LongBench bar)',
    '',
    ...r.goals.map((g) => `- ${g.met ? 'met' : '**not met**'}: ${g.goal} — ${g.measured}`),
    '',
    '## Right answers per document',
    '',
    mdTable(['document', 'fixed tokens', ...r.run.modes], bySize),
    '## Recall per layer',
    '',
    mdTable(['layer', ...squeezed.map((s) => s.id)], Array.from({ length: nLayers }, (_, l) => [String(l), ...squeezed.map((s) => num(s.recallPerLayer[l], 3))])),
    '## Documents and packs',
    '',
    mdTable(
      ['document', 'document tokens', 'fixed tokens', 'pack', 'pack MB', 'build or load s'],
      docs.map((d) => [d.name, String(d.documentTokens), String(d.fixedTokens), d.pack.built ? 'built' : 'loaded', (d.pack.bytes / 2 ** 20).toFixed(1), num(((d.pack.buildMs ?? d.pack.loadMs) ?? NaN) / 1000, 2)]),
    ),
  ].join('\n');
}
