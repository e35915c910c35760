// A small ZIP reader for the one thing we need from one: named entries of an Office file. ZIP files
// are untrusted input, so every offset, length and count is checked against the buffer before use,
// inflated sizes are capped by the declared size, and the CRC-32 of what was inflated is verified.
//
// Layout (PKWARE APPNOTE 6.3): the End Of Central Directory record sits at the end, after an
// optional comment of up to 65535 bytes:
//
//   EOCD      0 sig 0x06054b50 | 4 disk | 6 cd disk | 8 entries here | 10 entries | 12 cd size | 16 cd offset | 20 comment len
//   CD entry  0 sig 0x02014b50 | 8 flags | 10 method | 16 crc | 20 comp size | 24 size | 28 name len | 30 extra len
//             | 32 comment len | 42 local header offset | 46 name
//   local     0 sig 0x04034b50 | 26 name len | 28 extra len | 30 name, extra, then the data
//
// ZIP64, multi-disk archives and encrypted entries are refused (Office never writes the first two
// for documents under 4 GB; an encrypted Office file is not a ZIP at all).

import { inflateRawSync } from 'node:zlib';

export interface ZipEntry {
  name: string;
  method: number;
  flags: number;
  crc32: number;
  compressedSize: number;
  size: number;
  localOffset: number;
}

/** A structural problem with the archive: the caller turns it into its own coded error. */
export class ZipError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ZipError';
  }
}

const EOCD_SIG = 0x06054b50;
const CD_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;
const EOCD_SIZE = 22;
const CD_SIZE = 46;
const LOCAL_SIZE = 30;
const MAX_COMMENT = 0xffff;
const STORED = 0;
const DEFLATED = 8;
const FLAG_ENCRYPTED = 0x1;

function need(bytes: Uint8Array, offset: number, length: number, what: string): void {
  if (offset < 0 || length < 0 || offset + length > bytes.length) {
    throw new ZipError(`${what} at byte ${offset} (${length} bytes) runs past the end of the file (${bytes.length} bytes)`);
  }
}

export interface ZipEnd {
  /** where the end-of-central-directory record starts in the bytes searched */
  at: number;
  entries: number;
  directorySize: number;
  directoryOffset: number;
}

/** The end-of-central-directory record in `tail`, the last bytes of the file (at least EOCD + comment). */
export function findZipEnd(tail: Uint8Array): ZipEnd {
  const view = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  let at = -1;
  for (let i = tail.length - EOCD_SIZE; i >= Math.max(0, tail.length - EOCD_SIZE - MAX_COMMENT); i--) {
    if (view.getUint32(i, true) === EOCD_SIG && i + EOCD_SIZE + view.getUint16(i + 20, true) <= tail.length) {
      at = i;
      break;
    }
  }
  if (at < 0) throw new ZipError('no end-of-central-directory record: not a ZIP file, or a truncated one');
  const entries = view.getUint16(at + 10, true);
  const directorySize = view.getUint32(at + 12, true);
  const directoryOffset = view.getUint32(at + 16, true);
  if (view.getUint16(at + 4, true) !== 0 || view.getUint16(at + 6, true) !== 0 || view.getUint16(at + 8, true) !== entries) {
    throw new ZipError('a multi-disk archive');
  }
  if (entries === 0xffff || directorySize === 0xffffffff || directoryOffset === 0xffffffff) throw new ZipError('a ZIP64 archive');
  return { at, entries, directorySize, directoryOffset };
}

/** The entries of a central directory (`directory` holds exactly its bytes), in order. */
export function parseZipDirectory(directory: Uint8Array, count: number): ZipEntry[] {
  const view = new DataView(directory.buffer, directory.byteOffset, directory.byteLength);
  const entries: ZipEntry[] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    need(directory, at, CD_SIZE, `central directory entry ${i}`);
    if (view.getUint32(at, true) !== CD_SIG) throw new ZipError(`central directory entry ${i} has a bad signature`);
    const nameLength = view.getUint16(at + 28, true);
    const variable = nameLength + view.getUint16(at + 30, true) + view.getUint16(at + 32, true);
    need(directory, at + CD_SIZE, variable, `central directory entry ${i}'s name`);
    entries.push({
      name: Buffer.from(directory.subarray(at + CD_SIZE, at + CD_SIZE + nameLength)).toString('utf8'),
      flags: view.getUint16(at + 8, true),
      method: view.getUint16(at + 10, true),
      crc32: view.getUint32(at + 16, true),
      compressedSize: view.getUint32(at + 20, true),
      size: view.getUint32(at + 24, true),
      localOffset: view.getUint32(at + 42, true),
    });
    at += CD_SIZE + variable;
  }
  return entries;
}

/** The central directory's entries of a whole archive in memory, in order. */
export function readZipEntries(bytes: Uint8Array): ZipEntry[] {
  const end = findZipEnd(bytes);
  if (end.directoryOffset + end.directorySize > end.at) {
    throw new ZipError(`the central directory (${end.directorySize} bytes at ${end.directoryOffset}) overlaps its end record at ${end.at}`);
  }
  return parseZipDirectory(bytes.subarray(end.directoryOffset, end.directoryOffset + end.directorySize), end.entries);
}

/** An entry's bytes: inflated (or stored), at most `maxBytes`, CRC-checked. */
export function readZipEntry(bytes: Uint8Array, entry: ZipEntry, maxBytes: number): Uint8Array {
  if (entry.flags & FLAG_ENCRYPTED) throw new ZipError(`${entry.name} is encrypted`);
  if (entry.size > maxBytes) throw new ZipError(`${entry.name} would inflate to ${entry.size} bytes, over the ${maxBytes}-byte limit`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  need(bytes, entry.localOffset, LOCAL_SIZE, `${entry.name}'s local header`);
  if (view.getUint32(entry.localOffset, true) !== LOCAL_SIG) throw new ZipError(`${entry.name}'s local header has a bad signature`);
  const dataStart = entry.localOffset + LOCAL_SIZE + view.getUint16(entry.localOffset + 26, true) + view.getUint16(entry.localOffset + 28, true);
  need(bytes, dataStart, entry.compressedSize, `${entry.name}'s data`);
  const data = bytes.subarray(dataStart, dataStart + entry.compressedSize);
  let out: Uint8Array;
  if (entry.method === STORED) {
    out = data;
  } else if (entry.method === DEFLATED) {
    try {
      // One byte over the declared size is enough to tell a lying header from an honest one.
      out = inflateRawSync(data, { maxOutputLength: entry.size + 1 });
    } catch (e) {
      throw new ZipError(`${entry.name} cannot be inflated (${(e as Error).message})`);
    }
  } else {
    throw new ZipError(`${entry.name} uses compression method ${entry.method}`);
  }
  if (out.length !== entry.size) throw new ZipError(`${entry.name} holds ${out.length} bytes, its header says ${entry.size}`);
  if (crc32(out) !== entry.crc32) throw new ZipError(`${entry.name} fails its CRC-32 check`);
  return out;
}

let crcTable: Uint32Array | undefined;

/** CRC-32 (IEEE 802.3, as ZIP uses); node:zlib has one only from Node 22. */
export function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (const byte of bytes) crc = crcTable[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
