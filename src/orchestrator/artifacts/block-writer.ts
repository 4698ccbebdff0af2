// Hashes a put's bytes on this thread while the thread pool writes (and flushes) the previous blocks to the file.
import { createHash } from "node:crypto";
import { fdatasync, fsyncSync, write } from "node:fs";

/** Bytes per write: large writes are what make a durable put fast. */
export const BLOCK = 1024 * 1024;
/** Blocks in memory at once: one being filled, the others being written. */
const SLOTS = 3;
/** Start flushing written data in the background this often, so the closing fsync has little left to do. */
const FLUSH_EVERY = 16 * BLOCK;
/**
 * Blocks of finished puts, kept for the next: a fresh 1 MiB buffer costs its page faults on first
 * write, which for a 1 MiB put is a good part of the put.
 */
const spare: Buffer[] = [];
const SPARE_MAX = 2 * SLOTS;

/**
 * Writes blocks at increasing offsets of `fd` from a small ring of reused buffers (SLOTS × BLOCK,
 * whatever the size of the put), hashing each block before it is handed to the thread pool. The
 * hash (CPU, this thread) overlaps with the copy into the page cache and the flush to disk (the
 * pool), instead of following them.
 */
export class HashingBlockWriter {
  private readonly hash = createHash("sha256");
  /** Allocated on first use: a small put needs one block, not the whole ring. */
  private readonly slots: Buffer[] = [];
  private readonly pending: (Promise<void> | undefined)[] = new Array<Promise<void> | undefined>(SLOTS);
  private flushing: Promise<void> | undefined;
  private flushedAt = 0;
  private current = 0;
  private filled = 0;
  private failure: Error | undefined;
  /** Bytes committed so far. */
  size = 0;

  constructor(private readonly fd: number) {}

  /** The buffer to fill next (waits until its previous write is done). */
  private async slot(): Promise<Buffer> {
    await this.pending[this.current];
    if (this.failure) throw this.failure;
    return (this.slots[this.current] ??= spare.pop() ?? Buffer.allocUnsafe(BLOCK));
  }

  /** Hashes the first `n` bytes of the current slot and writes them in the background. */
  private commit(n: number): void {
    if (n === 0) return;
    const buf = this.slots[this.current]!;
    this.hash.update(buf.subarray(0, n));
    this.pending[this.current] = this.writeAt(buf, n, this.size);
    this.size += n;
    this.current = (this.current + 1) % SLOTS;
    this.filled = 0;
    if (!this.flushing && this.size - this.flushedAt >= FLUSH_EVERY) {
      this.flushedAt = this.size;
      this.flushing = new Promise<void>((resolve) =>
        fdatasync(this.fd, (err) => {
          if (err) this.failure ??= err;
          this.flushing = undefined;
          resolve();
        }),
      );
    }
  }

  /** Copies `chunk` into the ring; each full block is committed. */
  async write(chunk: Uint8Array): Promise<void> {
    let off = 0;
    while (off < chunk.byteLength) {
      const buf = this.filled === 0 ? await this.slot() : this.slots[this.current]!;
      const n = Math.min(BLOCK - this.filled, chunk.byteLength - off);
      buf.set(chunk.subarray(off, off + n), this.filled);
      this.filled += n;
      off += n;
      if (this.filled === BLOCK) this.commit(BLOCK);
    }
  }

  /** Writes what is left, waits for every write, fsyncs the file and returns the sha256 (hex). */
  async finish(): Promise<string> {
    this.commit(this.filled);
    await this.settled();
    if (this.failure) throw this.failure;
    fsyncSync(this.fd);
    return this.hash.digest("hex");
  }

  /** Waits for the writes in flight (before the file is closed, or removed after an error); the blocks go back to the spares. */
  async settled(): Promise<void> {
    await Promise.all([...this.pending, this.flushing]);
    for (const buf of this.slots.splice(0)) if (buf && spare.length < SPARE_MAX) spare.push(buf);
  }

  /** Never rejects: a failure is kept and thrown by the next `slot` or by `finish`. */
  private writeAt(buf: Buffer, length: number, position: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const step = (off: number) =>
        write(this.fd, buf, off, length - off, position + off, (err, written) => {
          if (err) {
            this.failure ??= err;
            resolve();
          } else if (off + written < length) step(off + written);
          else resolve();
        });
      step(0);
    });
  }
}
