// Whole-file writes that a crash cannot leave half done: a temp file beside the target, then rename.
import { randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import path from 'node:path';

export async function writeFileAtomic(target: string, text: string): Promise<void> {
  await fsp.mkdir(path.dirname(target), { recursive: true });
  const temp = `${target}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await fsp.writeFile(temp, text);
    await fsp.rename(temp, target);
  } catch (e) {
    await fsp.rm(temp, { force: true });
    throw e;
  }
}
