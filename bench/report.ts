// Shared by the benchmark suites: where they run, and how results are printed and saved.
import { execSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  commit: string;
  command: string;
  date: string;
}

export function describeMachine(): Machine {
  let commit = 'unknown';
  try {
    commit = execSync('git rev-parse --short HEAD', { encoding: 'utf8' }).trim();
  } catch {
    // not a git checkout
  }
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    commit,
    command: `npm run bench -- ${process.argv.slice(2).join(' ')}`,
    date: new Date().toISOString(),
  };
}

/** Prints rows as an aligned table. */
export function printTable(headers: string[], rows: Array<Array<string | number>>): void {
  const cells = [headers, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? c.toFixed(2) : c)))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => String(r[i]).length)));
  for (const [k, r] of cells.entries()) {
    process.stdout.write(r.map((c, i) => String(c).padEnd(widths[i] ?? 0)).join('  ') + '\n');
    if (k === 0) process.stdout.write(widths.map((w) => '-'.repeat(w)).join('  ') + '\n');
  }
}

export function saveResults(suite: string, data: unknown): string {
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'results');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${suite}-${new Date().toISOString().slice(0, 10)}.json`);
  writeFileSync(path, JSON.stringify(data, null, 2) + '\n');
  return path;
}
