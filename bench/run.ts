// `npm run bench -- <suite> [options]`: benchmarks that print a table and write JSON to bench/results/.
import { runCpuBench } from './cpu.ts';
import { runSqueezeBench } from './squeeze.ts';

const SUITES: Record<string, (argv: string[]) => Promise<void>> = { cpu: runCpuBench, squeeze: runSqueezeBench };

const [suite, ...rest] = process.argv.slice(2);
const run = suite ? SUITES[suite] : undefined;
if (!run) {
  process.stderr.write(`usage: npm run bench -- <${Object.keys(SUITES).join('|')}> [options]\n`);
  process.exit(2);
}
await run(rest);
