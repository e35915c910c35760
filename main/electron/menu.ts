// The application menu. Opening documents goes through the renderer (it knows the current chat),
// which then uses the same IPC verbs as its buttons (doc:pick, doc:open); opening a model needs no
// chat, so the main process shows the dialog and loads it. Reload and developer tools exist only in
// development builds.
import { app, dialog, Menu, type BrowserWindow, type MenuItemConstructorOptions } from 'electron';

import type { AppCore } from '../app/app-core.ts';

export interface MenuActions {
  window: () => BrowserWindow | undefined;
  core: AppCore;
}

async function openModel({ window, core }: MenuActions): Promise<void> {
  const target = window();
  if (!target) return;
  const result = await dialog.showOpenDialog(target, { title: 'Open a model', properties: ['openFile'], filters: [{ name: 'GGUF model', extensions: ['gguf'] }] });
  const file = result.canceled ? undefined : result.filePaths[0];
  // Failures reach the renderer as the model status (with the engine's code), like any other load.
  if (file) await core.models.load(file).catch(() => undefined);
}

export function setupMenu(actions: MenuActions): void {
  const command = (name: 'open-pdf' | 'open-folder') => () => actions.window()?.webContents.send('app:command', { command: name });
  const isMac = process.platform === 'darwin';
  const development = !app.isPackaged;
  const template: MenuItemConstructorOptions[] = [
    ...(isMac ? [{ role: 'appMenu' } as const] : []),
    {
      label: '&File',
      submenu: [
        { label: 'Open PDF…', accelerator: 'CmdOrCtrl+O', click: command('open-pdf') },
        { label: 'Open Folder…', accelerator: 'CmdOrCtrl+Shift+O', click: command('open-folder') },
        { label: 'Open Model…', click: () => void openModel(actions) },
        { type: 'separator' },
        isMac ? { role: 'close' } : { role: 'quit' },
      ],
    },
    { role: 'editMenu' },
    {
      label: '&View',
      submenu: [
        ...(development ? [{ role: 'reload' } as const, { role: 'toggleDevTools' } as const, { type: 'separator' } as const] : []),
        { role: 'resetZoom' },
        { role: 'zoomIn' },
        { role: 'zoomOut' },
        { type: 'separator' },
        { role: 'togglefullscreen' },
      ],
    },
    {
      role: 'help',
      submenu: [{ label: 'About Squeeze', click: () => app.showAboutPanel() }],
    },
  ];
  app.setAboutPanelOptions({
    applicationName: 'Squeeze',
    applicationVersion: app.getVersion(),
    copyright: 'Apache-2.0',
    credits: 'A local document assistant with Squeezed Attention (Hooper et al., arXiv 2411.09688).',
  });
  Menu.setApplicationMenu(Menu.buildFromTemplate(template));
}
