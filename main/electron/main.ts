// The Electron shell: a list of setupX() steps around the shared app core. It owns one window,
// serves the renderer from the app:// scheme (so a CSP header applies), checks every IPC sender and
// refuses navigation, new windows and webviews.
import { app, BrowserWindow, dialog, ipcMain, net, protocol, type IpcMainInvokeEvent } from 'electron';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { createAppCore, type AppCore, type Emit } from '../app/app-core.ts';
import { REQUEST_CHANNELS } from '../ipc/channels.ts';
import { createRouter } from '../ipc/router.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const RENDERER_DIR = path.join(ROOT, 'build', 'renderer');
const PRELOAD = path.join(ROOT, 'build', 'electron', 'preload.cjs');
const ORIGIN = 'app://squeeze';

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'none'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'none'",
].join('; ');

let window: BrowserWindow | undefined;

protocol.registerSchemesAsPrivileged([{ scheme: 'app', privileges: { standard: true, secure: true } }]);

function setupRendererProtocol(): void {
  protocol.handle('app', async (request) => {
    const url = new URL(request.url);
    const file = path.resolve(RENDERER_DIR, decodeURIComponent(url.pathname).replace(/^\/+/, '') || 'index.html');
    if (url.host !== 'squeeze' || !file.startsWith(RENDERER_DIR + path.sep)) return new Response('Not found', { status: 404 });
    const response = await net.fetch(pathToFileURL(file).toString());
    const headers = new Headers(response.headers);
    headers.set('content-security-policy', CSP);
    return new Response(response.body, { status: response.status, headers });
  });
}

function setupNavigationLocks(): void {
  app.on('web-contents-created', (_e, contents) => {
    contents.setWindowOpenHandler(() => ({ action: 'deny' }));
    contents.on('will-navigate', (e) => e.preventDefault());
    contents.on('will-attach-webview', (e) => e.preventDefault());
  });
}

/** Only the app's own window, showing the app's own page, may call the main process. */
function isKnownSender(event: IpcMainInvokeEvent): boolean {
  return window !== undefined && event.sender.id === window.webContents.id && (event.senderFrame?.url ?? '').startsWith(`${ORIGIN}/`);
}

function setupIpc(core: AppCore): void {
  const route = createRouter({ handlers: core.handlers, isKnownSender });
  for (const channel of REQUEST_CHANNELS) ipcMain.handle(channel, (event, payload: unknown) => route(channel, payload, event));
}

async function pickPath(kind: 'pdf' | 'folder'): Promise<string | null> {
  if (!window) return null;
  const result = await dialog.showOpenDialog(window, kind === 'pdf' ? { properties: ['openFile'], filters: [{ name: 'PDF', extensions: ['pdf'] }] } : { properties: ['openDirectory'] });
  return result.canceled ? null : (result.filePaths[0] ?? null);
}

function createWindow(): void {
  window = new BrowserWindow({
    width: 1280,
    height: 820,
    title: 'Squeeze',
    webPreferences: { preload: PRELOAD, contextIsolation: true, sandbox: true, nodeIntegration: false, webSecurity: true, spellcheck: false },
  });
  window.on('closed', () => (window = undefined));
  void window.loadURL(`${ORIGIN}/index.html`);
}

async function main(): Promise<void> {
  setupNavigationLocks();
  await app.whenReady();
  const emit: Emit = (event, payload) => window?.webContents.send(event, payload);
  const core = createAppCore({ dataDir: app.getPath('userData'), emit, pickPath });
  setupRendererProtocol();
  setupIpc(core);
  createWindow();
  void core.models.load();
  app.on('window-all-closed', () => app.quit());
}

void main();
