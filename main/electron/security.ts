// The Electron shell's security settings in one place (DESIGN.md §6), free of Electron at run time
// so tests can check them without its binary: the renderer's CSP, the window's web preferences,
// which IPC senders are the app's own page, and which links may leave the app.
import type { WebPreferences } from 'electron';

/** The renderer is served from this origin (main.ts's app:// protocol handler). */
export const APP_ORIGIN = 'app://squeeze';

export const CSP = [
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

/** Everything but the preload path: isolated, sandboxed, no Node, no webviews, no drag navigation. */
export const SECURE_WEB_PREFERENCES = {
  contextIsolation: true,
  sandbox: true,
  nodeIntegration: false,
  nodeIntegrationInWorker: false,
  nodeIntegrationInSubFrames: false,
  webSecurity: true,
  allowRunningInsecureContent: false,
  webviewTag: false,
  navigateOnDragDrop: false,
  safeDialogs: true,
  spellcheck: false,
} as const satisfies WebPreferences;

/** Links an answer may open: in the system browser, never in the app's window. */
export function isExternalUrl(url: string): boolean {
  return /^(https?:\/\/|mailto:)/i.test(url);
}

interface FrameLike {
  url: string;
}

export interface SenderEvent {
  sender: { id: number };
  senderFrame: FrameLike | null;
}

export interface AppWindow {
  webContents: { id: number; mainFrame: FrameLike };
}

/** Only the app's own window, in its main frame, showing the app's own page, may call the main process. */
export function isAppSender(event: SenderEvent, window: AppWindow | undefined): boolean {
  if (!window || event.sender.id !== window.webContents.id) return false;
  const frame = event.senderFrame;
  return frame !== null && frame === window.webContents.mainFrame && frame.url.startsWith(`${APP_ORIGIN}/`);
}
