// `npm start`: the desktop app. Electron when its binary is installed, else browser mode: the same
// core behind an HTTP + WebSocket bridge, shown in a Chromium --app window where Chromium exists,
// else at a printed URL.
//   npm start -- [--no-open] [--port P] [--browser] [--model FILE.gguf]
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { createAppCore } from './app-core.ts';
import { ensurePreloadBuilt, ensureRendererBuilt, RENDERER_BUILD, ROOT } from './build-ui.ts';
import { appDataDir } from './data-dir.ts';
import { startWebServer, type WebServer } from '../web/server.ts';

const CHROMIUM = '/usr/bin/chromium';

/** The Electron binary, read the way the electron package does, without its download fallback. */
function electronBinary(): string | undefined {
  if (process.env.ELECTRON_OVERRIDE_DIST_PATH) return path.join(process.env.ELECTRON_OVERRIDE_DIST_PATH, 'electron');
  const dir = path.join(ROOT, 'node_modules', 'electron');
  const pathFile = path.join(dir, 'path.txt');
  if (!existsSync(pathFile)) return undefined;
  const binary = path.join(dir, 'dist', readFileSync(pathFile, 'utf8').trim());
  return existsSync(binary) ? binary : undefined;
}

async function startElectron(binary: string): Promise<void> {
  await Promise.all([ensureRendererBuilt(), ensurePreloadBuilt()]);
  const child = spawn(binary, [path.join(ROOT, 'main', 'electron', 'entry.mjs')], { stdio: 'inherit' });
  child.on('exit', (code) => process.exit(code ?? 1));
}

function openChromium(url: string, dataDir: string): void {
  const profile = path.join(dataDir, 'chromium-profile');
  mkdirSync(profile, { recursive: true });
  const child = spawn(CHROMIUM, [`--app=${url}`, `--user-data-dir=${profile}`, '--no-first-run', '--disable-sync', '--disable-background-networking'], {
    stdio: 'ignore',
    detached: true,
  });
  child.on('error', () => process.stdout.write(`Could not start Chromium; open ${url} in a browser.\n`));
  child.unref();
}

async function startBrowserMode(options: { port: number; open: boolean; model?: string }): Promise<void> {
  await ensureRendererBuilt();
  const dataDir = appDataDir();
  let server: WebServer | undefined;
  const core = createAppCore({ dataDir, emit: (event, payload) => server?.broadcast(event, payload) });
  server = await startWebServer({ handlers: core.handlers, staticDir: RENDERER_BUILD, port: options.port });
  void core.models.load(options.model);
  process.stdout.write(`Squeeze is running at ${server.url}\n(chats are kept in ${dataDir}; Ctrl+C stops)\n`);
  if (options.open && existsSync(CHROMIUM)) openChromium(server.url, dataDir);
  const stop = () => void server?.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { 'no-open': { type: 'boolean' }, port: { type: 'string' }, browser: { type: 'boolean' }, model: { type: 'string' } },
    strict: true,
  });
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be a port number (0-65535), not ${values.port}`);
  const electron = values.browser ? undefined : electronBinary();
  if (electron) await startElectron(electron);
  else await startBrowserMode({ port, open: !values['no-open'], model: values.model });
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`squeeze: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(2);
});
