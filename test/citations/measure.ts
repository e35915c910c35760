// The citation figure: planted-facts PDFs → DocChat's pack with SmolLM2 → for each question, is the
// answer right, and does the top citation name the page holding the fact? Both scorings are
// measured on the same answers: DocChat's current one (top tokens by raw attention mass) and
// main/docs/citations.ts (excess over a neutral question's attention).
//
// The answers run on a second native session over the pack DocChat built, because DocChat's
// answers do not expose their token mass (see the report: once DocChat cites through citePages,
// chat.ask(...).citations is the "excess" column and this detour goes).
//
//   node --import tsx test/citations/measure.ts [--seeds 1,2,3] [--out bench/results/citations-DATE.md]
import { createHash } from 'node:crypto';
import { execSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { citePages, NEUTRAL_QUESTION, type PageSourceMap } from '../../main/docs/citations.ts';
import { buildFixedContext, openDocuments, type FixedContext } from '../../main/docs/index.ts';
import { DEFAULT_SYSTEM_PROMPT, DocChat } from '../../main/engine/doc-chat.ts';
import { Model } from '../../main/engine/engine.ts';
import type { NativeSqueezeMode } from '../../main/engine/native.ts';
import { smollm2Path } from '../support/models.ts';
import { answerIsRight, plantedDocument, plantedPdf } from './planted-facts.ts';

export interface MeasureMode {
  mode: NativeSqueezeMode;
  sparsity?: number;
}

export interface CitationRow {
  seed: number;
  mode: string;
  page: number;
  question: string;
  answer: string;
  right: boolean;
  /** top cited page: DocChat's raw-mass scoring, and the excess-over-neutral scoring */
  rawTop?: number;
  excessTop?: number;
}

export const MAX_ANSWER_TOKENS = 32;

/** DocChat's pack key for a context (the pack file holds it; loading checks it). */
function docHashOf(model: Model, context: FixedContext): string {
  const prefixText = model.formatChat([{ role: 'system', content: `${DEFAULT_SYSTEM_PROMPT}\n\n${context.text}` }], false);
  return createHash('sha256').update(JSON.stringify({ prefixText, spans: context.spans })).digest('hex');
}

export function modeName(m: MeasureMode): string {
  return m.mode === 'sparsity' ? `sparsity ${m.sparsity}` : m.mode;
}

/** Every question of the planted document `seed`, answered in each mode. */
export async function measureSeed(model: Model, seed: number, modes: MeasureMode[], workDir: string): Promise<CitationRow[]> {
  const planted = plantedDocument(seed);
  const file = join(workDir, `museum-${seed}.pdf`);
  writeFileSync(file, plantedPdf(planted));
  const context = buildFixedContext((await openDocuments(file)).documents);
  const chat = await DocChat.open(model, context, { packDir: join(workDir, 'packs') });
  const native = model.createDocSession({ contextSize: chat.fixedTokens.length + 1024 });
  const loaded = await native.loadPack(chat.pack.path, { docHash: docHashOf(model, context), fixedTokens: chat.fixedTokens });
  const map = JSON.parse(loaded.sourceMap) as PageSourceMap;
  const rows: CitationRow[] = [];
  for (const m of modes) {
    const answer = (question: string, maxTokens: number) =>
      native.answer(chat.dynamicTokens(question), { mode: m.mode, sparsity: m.sparsity, maxTokens, temperature: 0, stopTokens: model.eogTokens });
    // The neutral question as plain text, not a chat turn (as proposed for DocChat: it then shares
    // no cached tokens with the questions, so their answers and stats are as without it).
    const neutral = model.tokenizer.encode(NEUTRAL_QUESTION, { addSpecial: false, parseSpecial: false });
    const baseline = (await native.answer(neutral, { mode: m.mode, sparsity: m.sparsity, maxTokens: 1, temperature: 0, stopTokens: [] })).tokenMass;
    for (const [i, fact] of planted.facts.entries()) {
      const r = await answer(fact.question, MAX_ANSWER_TOKENS);
      const text = model.tokenizer.decode(r.tokens);
      rows.push({
        seed,
        mode: modeName(m),
        page: i + 1,
        question: fact.question,
        answer: text,
        right: answerIsRight(text, fact.expect),
        rawTop: chat.citations(r.tokenMass)[0]?.page,
        excessTop: citePages(map, r.tokenMass, baseline)[0]?.page,
      });
    }
  }
  return rows;
}

export interface Figure {
  mode: string;
  questions: number;
  right: number;
  rawOfRight: number;
  excessOfRight: number;
  rawOfAll: number;
  excessOfAll: number;
}

export function figures(rows: CitationRow[]): Figure[] {
  const modes = [...new Set(rows.map((r) => r.mode))];
  return modes.map((mode) => {
    const all = rows.filter((r) => r.mode === mode);
    const right = all.filter((r) => r.right);
    const hits = (rs: CitationRow[], key: 'rawTop' | 'excessTop') => rs.filter((r) => r[key] === r.page).length;
    return {
      mode,
      questions: all.length,
      right: right.length,
      rawOfRight: hits(right, 'rawTop'),
      excessOfRight: hits(right, 'excessTop'),
      rawOfAll: hits(all, 'rawTop'),
      excessOfAll: hits(all, 'excessTop'),
    };
  });
}

const pct = (n: number, d: number) => (d > 0 ? `${n}/${d} (${Math.round((100 * n) / d)}%)` : '-');

function report(rows: CitationRow[], command: string, seconds: number): string {
  const commit = execSync('git rev-parse --short HEAD', { encoding: 'utf8' }).trim();
  const lines = [
    `# Citation figure: does the top citation name the page that holds the fact?`,
    '',
    `Command: \`${command}\``,
    `Commit ${commit}; ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), load average ${loadavg()[0].toFixed(1)} ` +
      `(a machine shared with other jobs); ${seconds.toFixed(0)} s in all. Model: SmolLM2-135M-Instruct Q4_1. ` +
      `Documents: test/citations/planted-facts.ts (10 pages, one planted fact per page among filler prose, ` +
      `~1K tokens), seeds ${[...new Set(rows.map((r) => r.seed))].join(', ')}; greedy answers of at most ${MAX_ANSWER_TOKENS} tokens.`,
    '',
    '"raw": DocChat.citations (pages of the 64 document tokens with the most attention mass). ' +
      '"excess": main/docs/citations.ts citePages (the same, on the mass in excess of a neutral question\'s).',
    '',
    '| mode | right answers | raw: top cite right, of right answers | excess: of right answers | raw: of all | excess: of all |',
    '|---|---|---|---|---|---|',
    ...figures(rows).map(
      (f) => `| ${f.mode} | ${pct(f.right, f.questions)} | ${pct(f.rawOfRight, f.right)} | ${pct(f.excessOfRight, f.right)} | ${pct(f.rawOfAll, f.questions)} | ${pct(f.excessOfAll, f.questions)} |`,
    ),
    '',
    '| seed | mode | page | right | raw top | excess top | answer |',
    '|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.seed} | ${r.mode} | ${r.page} | ${r.right ? 'yes' : 'no'} | ${r.rawTop ?? '-'} | ${r.excessTop ?? '-'} | ${JSON.stringify(r.answer.slice(0, 90)).replace(/\|/g, '\\|')} |`),
  ];
  return lines.join('\n') + '\n';
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seeds: { type: 'string' }, out: { type: 'string' } } });
  const seeds = (values.seeds ?? '1,2,3').split(',').map(Number);
  const modes: MeasureMode[] = [{ mode: 'all' }, { mode: 'sparsity', sparsity: 0.7 }, { mode: 'sparsity', sparsity: 0.9 }];
  const model = await Model.load(smollm2Path());
  const workDir = mkdtempSync(join(tmpdir(), 'sq-citations-'));
  const started = Date.now();
  const rows: CitationRow[] = [];
  try {
    for (const seed of seeds) rows.push(...(await measureSeed(model, seed, modes, workDir)));
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
  const command = `node --import tsx test/citations/measure.ts ${process.argv.slice(2).join(' ')}`.trim();
  const text = report(rows, command, (Date.now() - started) / 1000);
  const out = values.out ?? `bench/results/citations-${new Date().toISOString().slice(0, 10)}.md`;
  writeFileSync(out, text);
  process.stdout.write(text.split('\n').slice(0, 14).join('\n') + `\n\nwritten to ${out}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
