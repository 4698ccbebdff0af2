// Durable delivery log and work queue in SQLite: dedupe by (source, delivery id), group commit, leased claims, retries.
import { closeSync, fdatasync, openSync } from "node:fs";
import { promisify } from "node:util";
import { Event } from "../../events/schema.js";
import { inTransaction, walCheckpointer, type DatabaseSync } from "../../store/sqlite.js";
import type { WalCheckpointer } from "../../store/wal-checkpointer.js";

/** A delivery as recorded before the 202: its normalised event, or why it is ignored. */
export interface DeliveryRecord {
  readonly source: string;
  readonly deliveryId: string;
  readonly eventName: string;
  readonly receivedAt: Date;
  readonly rawSha256: string;
  readonly event: Event | null;
  readonly ignoredReason: string | null;
}

export type RecordResult = "queued" | "ignored" | "duplicate";

export interface ClaimedDelivery {
  readonly source: string;
  readonly deliveryId: string;
  readonly attempts: number;
  readonly event: Event;
}

export interface QueueOptions {
  /** Attempts before a delivery is parked as failed. */
  readonly maxAttempts: number;
  /** How long a claim holds; a crashed worker's claim lapses after this and another takes it. */
  readonly leaseMs: number;
  /** First retry delay; doubles per attempt. */
  readonly backoffMs: number;
  /** Flushes the WAL's descriptor (default: fdatasync on the thread pool); tests hold it to watch commits group. */
  readonly datasync?: (fd: number) => Promise<void>;
}

export interface DeliveryRow {
  source: string;
  delivery_id: string;
  event_name: string;
  status: "queued" | "ignored" | "done" | "failed";
  attempts: number;
  outcome: string | null;
  last_error: string | null;
}

/** A write waiting for the next group commit. */
interface PendingWrite {
  readonly run: () => unknown;
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: unknown) => void;
  readonly queues: boolean;
}

const datasync = promisify(fdatasync);

export class DeliveryQueue {
  private pending: PendingWrite[] = [];
  private readonly listeners: (() => void)[] = [];
  private readonly insert;
  private readonly claimStmt;
  private readonly doneStmt;
  private readonly retryStmt;
  private readonly failStmt;
  private readonly dueStmt;
  /** Whether commits are followed by an fsync of the WAL: the store runs with synchronous=FULL on a file. */
  private readonly fsyncs: boolean;
  /** Opened with the queue, so the handle outlives the file: closing the database deletes the WAL while a commit's fsync may still be on its way. */
  private walFd: number | undefined;
  /** The fdatasync in progress, if any. */
  private syncing: Promise<void> | undefined;
  /** Checkpoints off the event loop, so no commit of ours pays for one (or stalls for one). */
  private readonly checkpointer: WalCheckpointer | undefined;

  constructor(
    private readonly db: DatabaseSync,
    private readonly opts: QueueOptions = { maxAttempts: 5, leaseMs: 5 * 60_000, backoffMs: 2_000 },
  ) {
    // A rowid table with a unique key rather than WITHOUT ROWID on the key: rows are appended in
    // rowid order and only the small key index takes the random (delivery id) insert, so a commit
    // writes fewer pages: about a third less WAL and CPU per delivery, measured. A table made by an
    // earlier version (key as primary key) works with the same statements.
    db.exec(`
      CREATE TABLE IF NOT EXISTS intake_deliveries (
        source TEXT NOT NULL,
        delivery_id TEXT NOT NULL,
        event_name TEXT NOT NULL,
        received_at TEXT NOT NULL,
        raw_sha256 TEXT NOT NULL,
        event TEXT,
        status TEXT NOT NULL,
        outcome TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        run_at INTEGER NOT NULL,
        locked_by TEXT,
        locked_until INTEGER,
        last_error TEXT,
        finished_at TEXT,
        UNIQUE (source, delivery_id)
      );
      CREATE INDEX IF NOT EXISTS intake_deliveries_due ON intake_deliveries (status, run_at) WHERE status = 'queued';
    `);
    const file = db.location();
    const synchronous = (db.prepare("PRAGMA synchronous").get() as { synchronous: number }).synchronous;
    const journal = (db.prepare("PRAGMA journal_mode").get() as { journal_mode: string }).journal_mode;
    // 2 = FULL, 3 = EXTRA; NORMAL (1) promises only crash safety, so it needs no fsync of ours either.
    this.fsyncs = Boolean(file) && journal === "wal" && synchronous >= 2;
    // The WAL exists from the table creation above on, for as long as the connection is open.
    if (this.fsyncs) this.walFd = openSync(`${file}-wal`, "r");
    // The connection's checkpointer (shared by every adapter's commits); the intake closes first
    // at shutdown, and closing it hands checkpoints back to SQLite for the rest.
    this.checkpointer = walCheckpointer(db);
    this.insert = db.prepare(
      `INSERT INTO intake_deliveries (source, delivery_id, event_name, received_at, raw_sha256, event, status, outcome, run_at, finished_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source, delivery_id) DO NOTHING`,
    );
    // One statement claims: no window in which two workers see the same row as free.
    this.claimStmt = db.prepare(
      `UPDATE intake_deliveries SET locked_by = ?, locked_until = ?, attempts = attempts + 1
       WHERE (source, delivery_id) IN (
         SELECT source, delivery_id FROM intake_deliveries
         WHERE status = 'queued' AND run_at <= ? AND (locked_until IS NULL OR locked_until <= ?)
         ORDER BY run_at LIMIT ?)
       RETURNING source, delivery_id, attempts, event`,
    );
    this.doneStmt = db.prepare(
      `UPDATE intake_deliveries SET status = 'done', outcome = ?, locked_by = NULL, locked_until = NULL, finished_at = ?
       WHERE source = ? AND delivery_id = ? AND locked_by = ?`,
    );
    this.retryStmt = db.prepare(
      `UPDATE intake_deliveries SET run_at = ?, last_error = ?, locked_by = NULL, locked_until = NULL
       WHERE source = ? AND delivery_id = ? AND locked_by = ?`,
    );
    this.failStmt = db.prepare(
      `UPDATE intake_deliveries SET status = 'failed', last_error = ?, locked_by = NULL, locked_until = NULL, finished_at = ?
       WHERE source = ? AND delivery_id = ? AND locked_by = ?`,
    );
    // Asked after every claim and every finished delivery: prepared once, like the writes.
    this.dueStmt = db.prepare("SELECT MIN(MAX(run_at, COALESCE(locked_until, 0))) AS due FROM intake_deliveries WHERE status = 'queued'");
  }

  /**
   * Records a delivery durably; resolves once its commit is on disk. Every write of the queue
   * (recording, claiming, completing) made in the same event-loop turn shares one transaction
   * (group commit), so concurrent webhooks and the worker share one fsync.
   */
  record(r: DeliveryRecord): Promise<RecordResult> {
    const ignored = r.event === null;
    return this.write(() => {
      const res = this.insert.run(
        r.source,
        r.deliveryId,
        r.eventName,
        r.receivedAt.toISOString(),
        r.rawSha256,
        r.event ? JSON.stringify(r.event) : null,
        ignored ? "ignored" : "queued",
        ignored ? r.ignoredReason : null,
        r.receivedAt.getTime(),
        ignored ? new Date().toISOString() : null,
      );
      return res.changes === 0 ? "duplicate" : ignored ? "ignored" : "queued";
    }, !ignored);
  }

  /** Called after each commit that queued work, so a worker can start at once. */
  onQueued(listener: () => void): void {
    this.listeners.push(listener);
  }

  private write<T>(run: () => T, queues = false): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ run, resolve: resolve as (v: unknown) => void, reject, queues });
      // While an fsync runs, its end starts the next commit: everything that arrives meanwhile shares it.
      if (this.pending.length === 1 && !this.syncing) setImmediate(() => this.flush());
    });
  }

  /**
   * Group commit: one transaction and, at FULL, one fdatasync for every write waiting. Only one
   * fsync runs at a time and no commit is made while it runs, so under load each commit (and
   * each fsync) carries every write that arrived during the previous fsync, and a write waits
   * for at most the fsync in progress and its own.
   */
  private flush(): void {
    if (this.pending.length === 0 || this.syncing) return;
    // Closed under us (shutdown): what still waits cannot be committed, and must hear so, not hang.
    if (!this.db.isOpen) {
      const waiting = this.pending;
      this.pending = [];
      for (const w of waiting) w.reject(new Error("the delivery queue's database is closed"));
      return;
    }
    // Another adapter's transaction is open on the shared connection: joining it would answer
    // before its commit, so wait for it to finish.
    if (this.db.isTransaction) return void setImmediate(() => this.flush());
    // The WAL is being brought to its end so it can start over: let the batch grow meanwhile.
    const hold = this.checkpointer?.ready();
    if (hold) return void hold.then(() => this.flush());
    const batch = this.pending;
    this.pending = [];
    let results: unknown[];
    try {
      results = this.commit(() => batch.map((w) => w.run()));
    } catch (err) {
      for (const w of batch) w.reject(err);
      return;
    }
    const done = () => {
      batch.forEach((w, i) => w.resolve(results[i]));
      if (batch.some((w, i) => w.queues && results[i] === "queued")) for (const l of this.listeners) l();
    };
    if (!this.fsyncs) return done();
    // The next batch's commit and fsync start before this one is answered, so the disk works while we answer.
    const next = () => {
      this.syncing = undefined;
      this.flush();
    };
    this.syncing = this.fdatasync().then(
      () => {
        next();
        done();
      },
      (err: unknown) => {
        next();
        for (const w of batch) w.reject(err);
      },
    );
  }

  /**
   * Commits without making the event loop wait for the disk: the transaction is committed as
   * synchronous=NORMAL (no fsync in WAL mode), then the WAL is fdatasync'ed on the thread pool and
   * only then are the writers answered. That is the durability of synchronous=FULL.
   */
  private commit<T>(fn: () => T): T {
    if (!this.fsyncs) return inTransaction(this.db, fn);
    this.db.exec("PRAGMA synchronous = NORMAL");
    try {
      return inTransaction(this.db, fn);
    } finally {
      this.db.exec("PRAGMA synchronous = FULL");
    }
  }

  private async fdatasync(): Promise<void> {
    // fdatasync on any descriptor of the file flushes it; on the thread pool, off the event loop.
    await (this.opts.datasync ?? datasync)(this.walFd!);
  }

  /** Stops the checkpointer and releases the WAL handle; the database connection itself belongs to whoever opened it. */
  async close(): Promise<void> {
    // Let the fsync in progress answer its batch, and the writes after it get their commit.
    while (this.syncing) await this.syncing.catch(() => undefined);
    await this.checkpointer?.close();
    const fd = this.walFd;
    this.walFd = undefined;
    if (fd !== undefined) closeSync(fd);
  }

  /** Claims up to `limit` due deliveries for `worker`, each leased for `leaseMs`. */
  async claim(worker: string, limit: number, now = Date.now()): Promise<ClaimedDelivery[]> {
    const rows = await this.write(
      () => this.claimStmt.all(worker, now + this.opts.leaseMs, now, now, limit) as { source: string; delivery_id: string; attempts: number; event: string }[],
    );
    return rows.map((r) => ({ source: r.source, deliveryId: r.delivery_id, attempts: r.attempts, event: Event.parse(JSON.parse(r.event)) }));
  }

  async complete(c: ClaimedDelivery, worker: string, outcome: string): Promise<void> {
    await this.write(() => this.doneStmt.run(outcome, new Date().toISOString(), c.source, c.deliveryId, worker));
  }

  /** Backs off exponentially, then parks the delivery as failed with the last error. */
  failed(c: ClaimedDelivery, worker: string, error: string, now = Date.now()): Promise<"retrying" | "failed"> {
    return this.write(() => {
      if (c.attempts >= this.opts.maxAttempts) {
        this.failStmt.run(error, new Date(now).toISOString(), c.source, c.deliveryId, worker);
        return "failed" as const;
      }
      this.retryStmt.run(now + this.opts.backoffMs * 2 ** (c.attempts - 1), error, c.source, c.deliveryId, worker);
      return "retrying" as const;
    });
  }

  /** Milliseconds until the next queued delivery is due (0 when one is due now), or null when none waits. */
  nextDueIn(now = Date.now()): number | null {
    const row = this.dueStmt.get() as { due: number | null };
    return row.due === null ? null : Math.max(0, row.due - now);
  }

  get(source: string, deliveryId: string): DeliveryRow | undefined {
    return this.db
      .prepare("SELECT source, delivery_id, event_name, status, attempts, outcome, last_error FROM intake_deliveries WHERE source = ? AND delivery_id = ?")
      .get(source, deliveryId) as DeliveryRow | undefined;
  }

  counts(): Record<string, number> {
    const rows = this.db.prepare("SELECT status, COUNT(*) AS n FROM intake_deliveries GROUP BY status").all() as { status: string; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.status, r.n]));
  }
}
