// The Electron shell: a list of setupX() steps around the shared app core. It owns one window,
// serves the renderer from the app:// scheme (so a CSP header applies), checks every IPC sender,
// refuses navigation, new windows, webviews and permission requests, and hands web links in answers
// to the system browser.
import { app, BrowserWindow, dialog, ipcMain, net, protocol, session, shell, type IpcMainInvokeEvent } from 'electron';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { createAppCore, type AppCore, type Emit } from '../app/app-core.ts';
import { REQUEST_CHANNELS } from '../ipc/channels.ts';
import { createRouter } from '../ipc/router.ts';
import { setupMenu } from './menu.ts';
import { APP_ORIGIN, CSP, isAppSender, isExternalUrl, SECURE_WEB_PREFERENCES } from './security.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const RENDERER_DIR = path.join(ROOT, 'build', 'renderer');
const PRELOAD = path.join(ROOT, 'build', 'electron', 'preload.cjs');

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
    contents.setWindowOpenHandler(({ url }) => {
      if (isExternalUrl(url)) void shell.openExternal(url);
      return { action: 'deny' };
    });
    // Also stops a file dropped outside the drop zone from replacing the app with file://.
    contents.on('will-navigate', (e) => e.preventDefault());
    contents.on('will-attach-webview', (e) => e.preventDefault());
  });
}

/** The app needs no camera, microphone, notifications, geolocation...: every request is refused. */
function setupPermissions(): void {
  session.defaultSession.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  session.defaultSession.setPermissionCheckHandler(() => false);
}

function setupIpc(core: AppCore): void {
  const route = createRouter({ handlers: core.handlers, isKnownSender: (event: IpcMainInvokeEvent) => isAppSender(event, window) });
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
    webPreferences: { ...SECURE_WEB_PREFERENCES, preload: PRELOAD },
  });
  window.on('closed', () => (window = undefined));
  void window.loadURL(`${APP_ORIGIN}/index.html`);
}

/** A second launch focuses the running window: two processes would share one data dir. */
function setupSingleInstance(): boolean {
  if (!app.requestSingleInstanceLock()) return false;
  app.on('second-instance', () => {
    if (window?.isMinimized()) window.restore();
    window?.focus();
  });
  return true;
}

async function main(): Promise<void> {
  if (!setupSingleInstance()) {
    app.quit();
    return;
  }
  app.enableSandbox();
  setupNavigationLocks();
  await app.whenReady();
  const emit: Emit = (event, payload) => window?.webContents.send(event, payload);
  const core = createAppCore({ dataDir: app.getPath('userData'), emit, pickPath });
  setupPermissions();
  setupRendererProtocol();
  setupIpc(core);
  setupMenu({ window: () => window, core });
  createWindow();
  void core.models.load();
  app.on('window-all-closed', () => app.quit());
}

void main();
