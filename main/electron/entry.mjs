// Electron's main entry: registers tsx so the TypeScript main process runs without a build step,
// as bin/squeeze.js does for the CLI.
import { register } from 'tsx/esm/api';

register();
await import('./main.ts');
