// Checkpoints a WAL database on a worker thread, so the event loop never waits for a checkpoint's copies and fsyncs.
import { Worker } from "node:worker_threads";
import { fs } from "./node-fs.js";
import type { DatabaseSync } from "./sqlite.js";
import type { PassResult } from "./wal-checkpoint-worker.js";

/** Source (tsx, vitest) or compiled: the worker file has this module's extension. */
const fromSource = import.meta.url.endsWith(".ts");
const workerUrl = new URL(`./wal-checkpoint-worker${fromSource ? ".ts" : ".js"}`, import.meta.url);

export interface CheckpointerOptions {
  /** The worker starts once the WAL file is this big; until then SQLite checkpoints as usual (short-lived processes never pay for a thread). */
  readonly startBytes: number;
  /** Least time between two background passes while writes go on (each pass fsyncs both files: fewer, larger passes cost less CPU, measured). */
  readonly passEveryMs: number;
  /** A WAL this long (frames) is brought to its end so the next write starts it over; writes wait for that, at most `maxHoldMs`. */
  readonly restartFrames: number;
  readonly maxHoldMs: number;
}

const defaults: CheckpointerOptions = { startBytes: 1 << 20, passEveryMs: 100, restartFrames: 8192, maxHoldMs: 25 };

/**
 * SQLite's automatic checkpoint runs inside the COMMIT that crosses 1000 WAL pages: it copies
 * the pages into the database file and fsyncs both files on the committing thread, stalling the
 * event loop for tens to hundreds of milliseconds on a busy disk. This turns it off on the
 * connection and runs PASSIVE checkpoints from a second connection on a worker thread instead.
 *
 * A passive checkpoint never blocks the writer, but SQLite starts the WAL over only when a write
 * begins with every frame already checkpointed, which never happens while commits keep coming.
 * So once the WAL passes `restartFrames`, the writer holds its next commit until one pass has
 * caught up (a few milliseconds: the frames of one pass, two fsyncs), or `maxHoldMs` at most.
 *
 * Durability is SQLite's own: the checkpoint connection runs with synchronous=FULL, so the
 * database file is synced before any WAL frame can be overwritten.
 */
export class WalCheckpointer {
  private readonly walFile: string;
  private readonly opts: CheckpointerOptions;
  private worker: Worker | undefined;
  private stopped = false;
  private passing = false;
  private lastPassAt = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Set while writes wait for a pass to catch up with the end of the WAL. */
  private hold: { promise: Promise<void>; release: () => void; timer: NodeJS.Timeout } | undefined;
  private noHoldUntil = 0;

  constructor(
    private readonly db: DatabaseSync,
    file: string,
    opts: Partial<CheckpointerOptions> = {},
  ) {
    this.walFile = `${file}-wal`;
    this.opts = { ...defaults, ...opts };
  }

  /** Call after each commit: starts the worker once the WAL is big enough, and a pass when one is due. */
  committed(): void {
    if (this.stopped) return;
    if (!this.worker && !this.start()) return;
    this.schedule();
  }

  /** Undefined when a write may go ahead now; otherwise a promise that resolves when it may. */
  ready(): Promise<void> | undefined {
    return this.hold?.promise;
  }

  /** Stops the worker and gives checkpointing back to SQLite. */
  async close(): Promise<void> {
    this.stopped = true;
    this.release();
    await this.stopWorker();
  }

  private start(): boolean {
    let size: number;
    try {
      size = fs.statSync(this.walFile).size;
    } catch {
      return false;
    }
    if (size < this.opts.startBytes) return false;
    const worker = new Worker(workerUrl, {
      workerData: { file: this.db.location() },
      execArgv: fromSource ? ["--import", import.meta.resolve("tsx")] : [],
    });
    // A background helper: it must not keep the process alive, nor outlive a failure silently.
    worker.unref();
    worker.on("message", (m: PassResult | { error: string }) => this.passed(m));
    worker.on("error", () => void this.fail());
    worker.on("exit", () => {
      if (this.worker === worker) void this.fail();
    });
    this.worker = worker;
    this.db.exec("PRAGMA wal_autocheckpoint = 0");
    return true;
  }

  private schedule(): void {
    if (this.passing || this.timer) return;
    const wait = this.lastPassAt + this.opts.passEveryMs - performance.now();
    if (wait <= 0 || this.hold) return this.pass();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.pass();
    }, wait);
    this.timer.unref();
  }

  private pass(): void {
    if (!this.worker || this.passing) return;
    this.passing = true;
    this.lastPassAt = performance.now();
    this.worker.postMessage("pass");
  }

  private passed(m: PassResult | { error: string }): void {
    this.passing = false;
    if (this.stopped) return;
    if ("error" in m) return void this.fail();
    // A hold starts only between passes, so this pass ran entirely under it: if it reached the
    // end of the WAL, nothing was written since and the next write starts the WAL over.
    if (this.hold) return m.checkpointed >= m.log ? this.release() : this.pass();
    // Still this long: commits keep landing during passes and the WAL never starts over.
    if (m.log >= this.opts.restartFrames && performance.now() >= this.noHoldUntil) {
      this.startHold();
      return this.pass();
    }
  }

  private startHold(): void {
    let release!: () => void;
    const promise = new Promise<void>((r) => (release = r));
    // Another connection's reader or writer can keep a pass from reaching the end: give up for a while.
    const timer = setTimeout(() => {
      this.noHoldUntil = performance.now() + 1_000;
      this.release();
    }, this.opts.maxHoldMs);
    timer.unref();
    this.hold = { promise, release, timer };
  }

  private release(): void {
    const h = this.hold;
    if (!h) return;
    this.hold = undefined;
    clearTimeout(h.timer);
    h.release();
  }

  /** A checkpointer that broke leaves checkpointing to SQLite for the rest of the connection's life. */
  private fail(): Promise<void> {
    this.stopped = true;
    return this.stopWorker();
  }

  private async stopWorker(): Promise<void> {
    const w = this.worker;
    if (!w) return;
    this.worker = undefined;
    this.passing = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.release();
    // SQLite checkpoints on its own again; the connection may already be closed at shutdown.
    if (this.db.isOpen) this.db.exec("PRAGMA wal_autocheckpoint = 1000");
    // Shutdown waits for the worker to close its connection, even when nothing else keeps the process alive.
    w.ref();
    w.postMessage("close");
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => void w.terminate().then(() => resolve()), 5_000);
      t.unref();
      w.once("exit", () => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}
