// Chats on disk: one JSON file per chat in <dataDir>/chats, written atomically (temp file + rename,
// so a crash mid-write leaves the previous version, never half a file). Files are validated when
// read: a damaged or foreign file is skipped, not trusted. A process killed mid-save leaves its temp
// file behind (test/persistence/ kills writers: one per kill); the temp name carries the writer's
// pid, and listing removes temp files of writers that are gone.
import { randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';

import { Chat } from '../ipc/contract.ts';

const ContextSpan = z.object({
  start: z.number().int().nonnegative(),
  end: z.number().int().nonnegative(),
  source: z.string(),
  page: z.number().int().positive(),
  lines: z.tuple([z.number().int(), z.number().int()]).optional(),
});

/** A chat as stored: what the renderer sees plus the documents' fixed context given to the model. */
export const StoredChat = Chat.extend({ context: z.string().optional(), spans: z.array(ContextSpan).optional() });
export type StoredChat = z.infer<typeof StoredChat>;

export function newId(): string {
  return randomBytes(9).toString('base64url');
}

export class ChatStore {
  private readonly dir: string;

  constructor(dataDir: string) {
    this.dir = path.join(dataDir, 'chats');
  }

  private file(id: string): string {
    return path.join(this.dir, `${id}.json`);
  }

  async save(chat: StoredChat): Promise<void> {
    await fsp.mkdir(this.dir, { recursive: true });
    const target = this.file(chat.id);
    const temp = `${target}.${process.pid}.${newId()}.tmp`;
    try {
      await fsp.writeFile(temp, JSON.stringify(chat));
      await fsp.rename(temp, target);
    } catch (e) {
      await fsp.rm(temp, { force: true });
      throw e;
    }
  }

  async load(id: string): Promise<StoredChat | undefined> {
    let text: string;
    try {
      text = await fsp.readFile(this.file(id), 'utf8');
    } catch {
      return undefined;
    }
    try {
      const parsed = StoredChat.safeParse(JSON.parse(text));
      return parsed.success && parsed.data.id === id ? parsed.data : undefined;
    } catch {
      return undefined;
    }
  }

  /** Every readable chat, most recently updated first. */
  async list(): Promise<StoredChat[]> {
    let names: string[];
    try {
      names = await fsp.readdir(this.dir);
    } catch {
      return [];
    }
    await Promise.all(names.filter(isOrphanedTemp).map((n) => fsp.rm(path.join(this.dir, n), { force: true })));
    const ids = names.filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -'.json'.length));
    const chats = await Promise.all(ids.map((id) => this.load(id)));
    return chats.filter((c): c is StoredChat => c !== undefined).sort((a, b) => b.updatedAt - a.updatedAt);
  }

  async remove(id: string): Promise<boolean> {
    try {
      await fsp.rm(this.file(id));
      return true;
    } catch {
      return false;
    }
  }
}

/** A temp file ("<id>.json.<pid>.<random>.tmp") whose writer process no longer exists. */
function isOrphanedTemp(name: string): boolean {
  const pid = Number(/\.json\.(\d+)\.[A-Za-z0-9_-]+\.tmp$/.exec(name)?.[1]);
  if (!Number.isInteger(pid) || pid === process.pid) return false;
  try {
    process.kill(pid, 0); // signal 0: only asks whether the process exists
    return false;
  } catch (e) {
    return (e as { code?: string }).code === 'ESRCH';
  }
}
