// Builds what the shells load when it is missing or older than its sources: the renderer bundle
// (both shells) and the bundled Electron preload.
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const RENDERER_BUILD = path.join(ROOT, 'build', 'renderer');
const PRELOAD_BUILD = path.join(ROOT, 'build', 'electron');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : statSync(full).mtimeMs);
  }
  return newest;
}

function stale(output: string, sources: string[]): boolean {
  if (!existsSync(output)) return true;
  const built = statSync(output).mtimeMs;
  return sources.some((s) => (statSync(s).isDirectory() ? newestMtime(s) : statSync(s).mtimeMs) > built);
}

export async function ensureRendererBuilt(): Promise<void> {
  const sources = [path.join(ROOT, 'renderer'), path.join(ROOT, 'main', 'ipc'), path.join(ROOT, 'vite.config.ts')];
  if (!stale(path.join(RENDERER_BUILD, 'index.html'), sources)) return;
  const { build } = await import('vite');
  await build({ configFile: path.join(ROOT, 'vite.config.ts'), root: path.join(ROOT, 'renderer'), logLevel: 'warn' });
}

export async function ensurePreloadBuilt(): Promise<void> {
  const entry = path.join(ROOT, 'main', 'electron', 'preload.ts');
  if (!stale(path.join(PRELOAD_BUILD, 'preload.cjs'), [entry, path.join(ROOT, 'main', 'ipc')])) return;
  const { build } = await import('vite');
  await build({
    configFile: false,
    logLevel: 'warn',
    build: {
      outDir: PRELOAD_BUILD,
      emptyOutDir: true,
      minify: false,
      lib: { entry, formats: ['cjs'], fileName: () => 'preload.cjs' },
      rollupOptions: { external: ['electron'] },
    },
  });
}
