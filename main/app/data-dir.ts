// Where the app keeps chats when Electron does not say (browser mode): $SQUEEZE_DATA_DIR, else the
// XDG data dir.
import { homedir } from 'node:os';
import path from 'node:path';

export function appDataDir(): string {
  if (process.env.SQUEEZE_DATA_DIR) return process.env.SQUEEZE_DATA_DIR;
  const base = process.env.XDG_DATA_HOME || path.join(homedir(), '.local', 'share');
  return path.join(base, 'squeeze');
}
