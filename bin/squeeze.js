#!/usr/bin/env node
// Entry point of the `squeeze` command: runs main/cli.ts through tsx (no build step).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../main/cli.ts');
process.exitCode = await main(process.argv.slice(2));
