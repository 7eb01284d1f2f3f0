import { type FileHandle, open, rm } from "node:fs/promises";

/**
 * Rewrites a QEMU full-state file (a stopped VM's migration stream: RAM pages, then device
 * state) keeping, of one RAM block, only the pages a bitmap marks as changed against the
 * block's base RAM file (see `changedPages` in page-map.ts).
 *
 * A VM restored from the result over a private mapping of that base file ends up with the
 * same memory as one restored from the full state: every page left out reads the same
 * through the mapping. It copies only the changed pages, where the full state made the
 * restoring QEMU write (and so privately copy) every non-zero page of the guest.
 *
 * The stream is QEMU's precopy format (migration/savevm.c, migration/ram.c): this reads the
 * "ram" section's records (block list, `PAGE` and `ZERO` pages, `EOS`) and passes every other
 * byte through. Anything it does not know (another iterable section, compression, XBZRLE)
 * throws {@link UnsupportedStreamError}; the caller then restores from the full state.
 */

const MAGIC = 0x5145564d; // "QEVM"
const VERSION = 3;
const PAGE = 4096;
const PAGE_MASK = PAGE - 1;

// Top-level section types (savevm.c).
const SECTION_START = 0x01;
const SECTION_PART = 0x02;
const SECTION_END = 0x03;
const SECTION_FULL = 0x04;
const VM_EOF = 0x06;
const VM_CONFIGURATION = 0x07;
const SECTION_FOOTER = 0x7e;

// RAM record flags (ram.c), in the low bits of each record's be64 address.
const FLAG_ZERO = 0x02;
const FLAG_MEM_SIZE = 0x04;
const FLAG_PAGE = 0x08;
const FLAG_EOS = 0x10;
const FLAG_CONTINUE = 0x20;

const CHUNK = 4 * 1024 * 1024;

/** The stream holds something this rewriter does not parse; restore from the full state instead. */
export class UnsupportedStreamError extends Error {
  override name = "UnsupportedStreamError";
}

/** What a rewrite kept and left out. */
export interface RamDiffResult {
  /** Pages of the block written to the result (changed against the base). */
  keptPages: number;
  /** Pages of the block left out (unchanged: the base holds them). */
  droppedPages: number;
  /** Size of the result, bytes. */
  bytes: number;
}

/**
 * Writes `out`: the stream in `fullState` with only those pages of RAM block `blockId` whose
 * bit is set in `changed` (page `n` of the block is bit `n % 8` of byte `n >> 3`); pages of
 * other blocks all stay. `out` is removed again when the rewrite fails.
 */
export async function writeRamDiffState(opts: {
  fullState: string;
  blockId: string;
  changed: Uint8Array;
  out: string;
  /** Stops the rewrite (it rejects with the signal's reason, `out` removed). */
  signal?: AbortSignal | undefined;
}): Promise<RamDiffResult> {
  const input = await open(opts.fullState, "r");
  try {
    const output = await open(opts.out, "w", 0o600);
    const writer = new Writer(output);
    try {
      const result = await rewrite(new Reader(input, opts.signal), writer, opts.blockId, opts.changed);
      await output.close();
      return result;
    } catch (err) {
      // A write spilled before the failure may still be in flight: closing under it would fail it.
      await writer.settle();
      await output.close().catch(() => {});
      await rm(opts.out, { force: true });
      throw err;
    }
  } finally {
    await input.close();
  }
}

async function rewrite(r: Reader, w: Writer, blockId: string, changed: Uint8Array): Promise<RamDiffResult> {
  if (!r.has(8)) await r.need(8);
  if (r.u32() !== MAGIC || r.u32() !== VERSION) throw new UnsupportedStreamError("not a QEMU v3 stream");
  w.u32(MAGIC);
  w.u32(VERSION);
  const ram = new RamRecords(blockId, changed);
  let ramSection: number | undefined;
  for (;;) {
    if (!r.has(1)) await r.need(1);
    const type = r.u8();
    if (type === VM_CONFIGURATION) {
      if (!r.has(4)) await r.need(4);
      const len = r.u32();
      if (!r.has(len + 1)) await r.need(len + 1);
      w.u8(type);
      w.u32(len);
      w.bytes(r.take(len));
      // A configuration subsection (page bits, capabilities, UUID) would need vmstate parsing.
      if (r.peek() !== SECTION_START) throw new UnsupportedStreamError("configuration has subsections");
      continue;
    }
    if (type === SECTION_START) {
      if (!r.has(5)) await r.need(5);
      const id = r.u32();
      const nameLen = r.u8();
      if (!r.has(nameLen + 8)) await r.need(nameLen + 8);
      const name = r.take(nameLen);
      const instance = r.u32();
      const version = r.u32();
      if (name.toString("latin1") !== "ram" || ramSection !== undefined) {
        throw new UnsupportedStreamError(`iterable section ${name.toString("latin1")}`);
      }
      ramSection = id;
      w.u8(type);
      w.u32(id);
      w.u8(nameLen);
      w.bytes(name);
      w.u32(instance);
      w.u32(version);
      await ram.copySectionData(r, w);
      await copyFooter(r, w);
      continue;
    }
    if (type === SECTION_PART || type === SECTION_END) {
      if (!r.has(4)) await r.need(4);
      const id = r.u32();
      if (id !== ramSection) throw new UnsupportedStreamError(`part of section ${id}`);
      w.u8(type);
      w.u32(id);
      await ram.copySectionData(r, w);
      await copyFooter(r, w);
      continue;
    }
    if (type === SECTION_FULL || type === VM_EOF) {
      // Device state (not self-delimiting, and nothing to change in it): the rest goes as it is.
      if (ramSection === undefined) throw new UnsupportedStreamError("no RAM section before devices");
      w.u8(type);
      await w.flush();
      await r.copyRest(w);
      return { ...ram.counts(), bytes: w.written };
    }
    throw new UnsupportedStreamError(`section type 0x${type.toString(16)}`);
  }
}

async function copyFooter(r: Reader, w: Writer): Promise<void> {
  if (!r.has(1)) await r.need(1);
  if (r.peek() !== SECTION_FOOTER) return;
  if (!r.has(5)) await r.need(5);
  w.u8(r.u8());
  w.u32(r.u32());
}

/** The RAM section's records, the target block's unchanged pages left out. */
class RamRecords {
  private inBlock: string | undefined;
  private outBlock: string | undefined;
  private kept = 0;
  private dropped = 0;

  constructor(
    private readonly blockId: string,
    private readonly changed: Uint8Array,
  ) {}

  counts(): Omit<RamDiffResult, "bytes"> {
    return { keptPages: this.kept, droppedPages: this.dropped };
  }

  /** Copies records up to and including `EOS`. */
  async copySectionData(r: Reader, w: Writer): Promise<void> {
    for (;;) {
      if (!r.has(8)) await r.need(8);
      const high = r.u32();
      const low = r.u32();
      const flags = low & PAGE_MASK;
      const addr = high * 2 ** 32 + (low - flags);
      const kind = flags & ~FLAG_CONTINUE;
      if (kind === FLAG_EOS) {
        w.record(addr, flags);
        return;
      }
      if (kind === FLAG_MEM_SIZE) {
        w.record(addr, flags);
        await copyBlockList(r, w, BigInt(addr));
        continue;
      }
      if (kind !== FLAG_PAGE && kind !== FLAG_ZERO) {
        throw new UnsupportedStreamError(`RAM record flags 0x${flags.toString(16)}`);
      }
      if (!(flags & FLAG_CONTINUE)) {
        if (!r.has(1)) await r.need(1);
        const len = r.u8();
        if (!r.has(len)) await r.need(len);
        this.inBlock = r.take(len).toString("latin1");
      } else if (this.inBlock === undefined) {
        throw new UnsupportedStreamError("a page continues no block");
      }
      const size = kind === FLAG_PAGE ? PAGE : 1;
      if (!r.has(size)) await r.need(size);
      const data = r.take(size);
      if (this.inBlock === this.blockId) {
        const page = addr / PAGE;
        if (page >= this.changed.length * 8) throw new UnsupportedStreamError("a page beyond the bitmap");
        if (!((this.changed[page >> 3] as number) & (1 << (page & 7)))) {
          this.dropped++;
          continue;
        }
        this.kept++;
      }
      const block = this.inBlock as string;
      if (block === this.outBlock) {
        w.record(addr, kind | FLAG_CONTINUE);
      } else {
        w.record(addr, kind);
        const id = Buffer.from(block, "latin1");
        w.u8(id.length);
        w.bytes(id);
        this.outBlock = block;
      }
      w.bytes(data);
    }
  }
}

/** The `MEM_SIZE` record's block list: (name, used length) until the lengths add up to `total`. */
async function copyBlockList(r: Reader, w: Writer, total: bigint): Promise<void> {
  let left = total;
  while (left > 0n) {
    if (!r.has(1)) await r.need(1);
    const len = r.u8();
    if (!r.has(len + 8)) await r.need(len + 8);
    w.u8(len);
    w.bytes(r.take(len));
    const used = r.u64();
    w.u64(used);
    left -= used;
  }
  if (left !== 0n) throw new UnsupportedStreamError("RAM block lengths do not add up");
}

/** Buffered big-endian reads from a file. */
class Reader {
  private buf = Buffer.alloc(CHUNK);
  private pos = 0;
  private end = 0;
  private fileOffset = 0;

  constructor(
    private readonly file: FileHandle,
    private readonly signal?: AbortSignal,
  ) {}

  /** Whether `n` bytes are buffered (then no `need` is called: an await per record is dear). */
  has(n: number): boolean {
    return this.end - this.pos >= n;
  }

  /** Makes at least `n` bytes available; a stream that ends first is unsupported (truncated). */
  async need(n: number): Promise<void> {
    if (this.end - this.pos >= n) return;
    if (n > this.buf.length) throw new UnsupportedStreamError(`a ${n}-byte field`);
    this.signal?.throwIfAborted();
    this.buf.copy(this.buf, 0, this.pos, this.end);
    this.end -= this.pos;
    this.pos = 0;
    while (this.end < n) {
      const { bytesRead } = await this.file.read(
        this.buf,
        this.end,
        this.buf.length - this.end,
        this.fileOffset,
      );
      if (bytesRead === 0) throw new UnsupportedStreamError("the stream ends early");
      this.end += bytesRead;
      this.fileOffset += bytesRead;
    }
  }

  peek(): number {
    return this.buf[this.pos] as number;
  }

  u8(): number {
    return this.buf[this.pos++] as number;
  }

  u32(): number {
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  u64(): bigint {
    const v = this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  /** The next `n` bytes (a view, valid until the next `need`). */
  take(n: number): Buffer {
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  /** Writes what is buffered and the rest of the file to `w`. */
  async copyRest(w: Writer): Promise<void> {
    await w.raw(this.buf.subarray(this.pos, this.end));
    this.pos = this.end;
    for (;;) {
      const { bytesRead } = await this.file.read(this.buf, 0, this.buf.length, this.fileOffset);
      if (bytesRead === 0) return;
      this.fileOffset += bytesRead;
      await w.raw(this.buf.subarray(0, bytesRead));
    }
  }
}

/** Buffered big-endian writes to a file (flushed when the buffer fills and at the end). */
class Writer {
  private buf = Buffer.alloc(CHUNK);
  private len = 0;
  private pending: Promise<unknown> = Promise.resolve();
  written = 0;

  constructor(private readonly file: FileHandle) {}

  private room(n: number): void {
    if (this.len + n > this.buf.length) this.spill();
  }

  // The full buffer is written while the next one fills (the caller awaits `flush` at the end).
  private spill(): void {
    const full = this.buf.subarray(0, this.len);
    const at = this.written;
    this.written += this.len;
    const previous = this.pending;
    this.pending = previous.then(() => writeAll(this.file, full, at));
    // Handled here so a failed write is not an unhandled rejection when the rewrite fails
    // elsewhere first; `flush` still awaits it and throws.
    this.pending.catch(() => {});
    this.buf = Buffer.allocUnsafe(CHUNK);
    this.len = 0;
  }

  u8(v: number): void {
    this.room(1);
    this.buf[this.len++] = v;
  }

  u32(v: number): void {
    this.room(4);
    this.buf.writeUInt32BE(v, this.len);
    this.len += 4;
  }

  u64(v: bigint): void {
    this.room(8);
    this.buf.writeBigUInt64BE(v, this.len);
    this.len += 8;
  }

  /** A RAM record's be64: a page-aligned address (below 2^53) with flags in its low bits. */
  record(addr: number, flags: number): void {
    this.room(8);
    this.buf.writeUInt32BE(Math.floor(addr / 2 ** 32), this.len);
    this.buf.writeUInt32BE((addr % 2 ** 32) + flags, this.len + 4);
    this.len += 8;
  }

  bytes(v: Buffer): void {
    this.room(v.length);
    v.copy(this.buf, this.len);
    this.len += v.length;
  }

  /** Writes everything buffered. */
  async flush(): Promise<void> {
    if (this.len > 0) this.spill();
    await this.pending;
  }

  /** Waits for the writes in flight, whatever their outcome (before closing after a failure). */
  async settle(): Promise<void> {
    await this.pending.catch(() => {});
  }

  /** Flushes, then writes `v` as it is. */
  async raw(v: Buffer): Promise<void> {
    await this.flush();
    if (v.length === 0) return;
    await writeAll(this.file, v, this.written);
    this.written += v.length;
  }
}

/** Writes all of `data` at `position` (a write into a filling disk can be short; the next one then fails). */
async function writeAll(file: FileHandle, data: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await file.write(data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}
