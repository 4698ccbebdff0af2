// The embedded ledger: entries in the shared SQLite database, append-only by trigger, chained by hash.
import { inTransaction, type DatabaseSync } from "../../store/sqlite.js";
import { mergeSegments, walkSegment, type RunHead, type StoredRow } from "./chain.js";
import { decodeEntry, sealEntry } from "./entry.js";
import { projectRun, statusAfter, subjectsAfter, summaryFromCreated, type RunSubjects } from "./projection.js";
import {
  GENESIS_HASH,
  LedgerConflictError,
  LedgerInputError,
  type AppendRequest,
  type AppendResult,
  type Entry,
  type RunPage,
  type RunQuery,
  type RunRecord,
  type RunStatus,
  type RunSummary,
  type TransactionalLedger,
  type VerifyReport,
} from "./port.js";
import { decodeCursor, encodeCursor, pageLimit } from "./query.js";
import { verifyInParallel, walkRows } from "./verify-workers.js";

const schema = `
CREATE TABLE IF NOT EXISTS ledger_entries (
  id INTEGER PRIMARY KEY,
  run_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  type TEXT NOT NULL,
  hash TEXT NOT NULL,
  body BLOB NOT NULL,
  UNIQUE (run_id, seq)
);
CREATE TRIGGER IF NOT EXISTS ledger_entries_no_update BEFORE UPDATE ON ledger_entries
BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only: UPDATE is refused'); END;
CREATE TRIGGER IF NOT EXISTS ledger_entries_no_delete BEFORE DELETE ON ledger_entries
BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only: DELETE is refused'); END;
CREATE TABLE IF NOT EXISTS ledger_runs (
  run_id TEXT PRIMARY KEY,
  run_type TEXT NOT NULL,
  status TEXT NOT NULL,
  repo_scope TEXT NOT NULL,
  title TEXT,
  subjects TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  head_seq INTEGER NOT NULL,
  head_hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_runs_by_repo ON ledger_runs (repo_scope, run_id);
CREATE INDEX IF NOT EXISTS ledger_runs_by_status ON ledger_runs (status, run_id);
CREATE TRIGGER IF NOT EXISTS ledger_runs_head_forward BEFORE UPDATE ON ledger_runs WHEN NEW.head_seq <= OLD.head_seq
BEGIN SELECT RAISE(ABORT, 'a run head only moves forward'); END;
CREATE TRIGGER IF NOT EXISTS ledger_runs_no_delete BEFORE DELETE ON ledger_runs
BEGIN SELECT RAISE(ABORT, 'ledger runs are never deleted'); END;
CREATE TABLE IF NOT EXISTS ledger_run_subjects (
  subject TEXT NOT NULL,
  run_id TEXT NOT NULL,
  PRIMARY KEY (subject, run_id)
) WITHOUT ROWID;
`;

type HeadRow = { run_type: string; status: string; repo_scope: string; title: string | null; subjects: string; created_at: string; updated_at: string; head_seq: number; head_hash: string; run_id: string };

export interface SqliteLedgerOptions {
  /** The shared connection (see src/store/sqlite.ts); the ledger does not close it. */
  readonly db: DatabaseSync;
  /** The database file, for verify workers (they open their own read-only connections); omit for :memory:. */
  readonly file?: string;
  readonly now?: () => Date;
}

export function sqliteLedger(opts: SqliteLedgerOptions): TransactionalLedger {
  const { db, file } = opts;
  const now = opts.now ?? (() => new Date());
  db.exec(schema);
  const q = {
    head: db.prepare("SELECT * FROM ledger_runs WHERE run_id = ?"),
    insertEntry: db.prepare("INSERT INTO ledger_entries (run_id, seq, type, hash, body) VALUES (?, ?, ?, ?, ?)"),
    insertRun: db.prepare(
      "INSERT INTO ledger_runs (run_id, run_type, status, repo_scope, title, subjects, created_at, updated_at, head_seq, head_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    ),
    headOf: db.prepare("SELECT head_seq, head_hash, status FROM ledger_runs WHERE run_id = ?"),
    moveHeadAndStatus: db.prepare("UPDATE ledger_runs SET status = ?, updated_at = ?, head_seq = ?, head_hash = ? WHERE run_id = ?"),
    moveHead: db.prepare("UPDATE ledger_runs SET updated_at = ?, head_seq = ?, head_hash = ? WHERE run_id = ?"),
    // Subjects change only with an entry, so in the same UPDATE as the head (which must move forward).
    moveHeadWithSubjects: db.prepare("UPDATE ledger_runs SET status = ?, subjects = ?, updated_at = ?, head_seq = ?, head_hash = ? WHERE run_id = ?"),
    insertSubject: db.prepare("INSERT OR IGNORE INTO ledger_run_subjects (subject, run_id) VALUES (?, ?)"),
    entries: db.prepare("SELECT id, run_id, seq, type, hash, body FROM ledger_entries WHERE run_id = ? AND seq >= ? ORDER BY seq"),
    heads: db.prepare("SELECT run_id, head_seq, head_hash FROM ledger_runs ORDER BY run_id"),
    maxId: db.prepare("SELECT max(id) AS m FROM ledger_entries"),
  };
  for (const s of [q.headOf, q.entries, q.heads]) s.setReturnArrays(true);

  function toSummary(r: HeadRow): RunSummary {
    return {
      run_id: r.run_id,
      run_type: r.run_type as RunSummary["run_type"],
      status: r.status as RunSummary["status"],
      subjects: JSON.parse(r.subjects) as string[],
      repo_scope: r.repo_scope,
      ...(r.title === null ? {} : { title: r.title }),
      created_at: r.created_at,
      updated_at: r.updated_at,
      head: { seq: r.head_seq, hash: r.head_hash },
    };
  }

  function appendOne(req: AppendRequest): AppendResult {
    if (req.entries.length === 0) throw new LedgerInputError(`${req.runId}: append needs at least one entry`);
    // Only what an append needs (seq, hash, status), as an array: the summary columns stay unread.
    const head = q.headOf.get(req.runId) as unknown as [seq: number, hash: string, status: RunStatus] | undefined;
    const nextSeq = head ? head[0] + 1 : 0;
    if (!head && req.expectedSeq > 0) throw new LedgerInputError(`no run ${req.runId} in the ledger; a run starts with its run_created entry at seq 0`);
    if (req.expectedSeq !== nextSeq) throw new LedgerConflictError(req.runId, req.expectedSeq, nextSeq);
    let prev = head ? head[1] : GENESIS_HASH;
    let created: RunSummary | undefined;
    let status = head?.[2];
    // The run's repo and subjects, read only once a `published` entry may add one: most appends touch the head columns alone.
    let about: RunSubjects | undefined;
    const addedSubjects: string[] = [];
    const written: Entry[] = [];
    for (let i = 0; i < req.entries.length; i++) {
      const { entry, bytes } = sealEntry(req.runId, nextSeq + i, prev, req.entries[i]!, now);
      if (status === undefined) {
        created = about = summaryFromCreated(entry);
        status = created.status;
        addedSubjects.push(...created.subjects);
      } else {
        status = statusAfter(status, entry);
        if (entry.type === "published") {
          about ??= toSummary(q.head.get(req.runId) as HeadRow);
          const subjects = subjectsAfter(about, entry);
          if (subjects !== about.subjects) {
            addedSubjects.push(subjects[subjects.length - 1]!);
            about = { ...about, subjects };
          }
        }
      }
      try {
        q.insertEntry.run(req.runId, entry.seq, entry.type, entry.hash, bytes);
      } catch (err) {
        // The unique (run_id, seq) index is the last word when another connection wrote first.
        if (err instanceof Error && /UNIQUE constraint failed/.test(err.message)) throw new LedgerConflictError(req.runId, entry.seq, undefined);
        throw err;
      }
      prev = entry.hash;
      written.push(entry);
    }
    const last = written[written.length - 1]!;
    if (created) {
      const s = created;
      q.insertRun.run(s.run_id, s.run_type, status!, s.repo_scope, s.title ?? null, JSON.stringify(about!.subjects), s.created_at, last.at, last.seq, last.hash);
    } else if (addedSubjects.length > 0) {
      q.moveHeadWithSubjects.run(status!, JSON.stringify(about!.subjects), last.at, last.seq, last.hash, req.runId);
    } else if (status !== head![2]) {
      q.moveHeadAndStatus.run(status!, last.at, last.seq, last.hash, req.runId);
    } else {
      // Leaving status out of the UPDATE spares the by-status index a delete and re-insert.
      q.moveHead.run(last.at, last.seq, last.hash, req.runId);
    }
    for (const subject of addedSubjects) q.insertSubject.run(subject, req.runId);
    return { runId: req.runId, entries: written, head: { seq: last.seq, hash: last.hash } };
  }

  const appendInTransaction = (requests: readonly AppendRequest[]) => inTransaction(db, () => requests.map(appendOne));

  function readEntries(runId: string, fromSeq = 0): Entry[] {
    return (q.entries.all(runId, fromSeq) as unknown as [number, string, number, string, string, Uint8Array][]).map((r) => decodeEntry(r[5], r[4]));
  }

  return {
    appendInTransaction,
    async append(requests) {
      return appendInTransaction(requests);
    },
    async entries(runId, fromSeq) {
      return readEntries(runId, fromSeq);
    },
    async run(runId): Promise<RunRecord | undefined> {
      const entries = readEntries(runId);
      return entries.length === 0 ? undefined : projectRun(entries);
    },
    async listRuns(query: RunQuery = {}): Promise<RunPage> {
      const limit = pageLimit(query.limit);
      const filters: Array<[sql: string, value: string | undefined]> = [
        ["r.repo_scope = ?", query.repo],
        ["r.status = ?", query.status],
        ["r.run_id IN (SELECT run_id FROM ledger_run_subjects WHERE subject = ?)", query.subject],
        ["r.run_id < ?", query.cursor === undefined ? undefined : decodeCursor(query.cursor)],
      ];
      const used = filters.filter(([, v]) => v !== undefined);
      const where = used.map(([sql]) => sql);
      const args = used.map(([, v]) => v!);
      const sql = `SELECT r.* FROM ledger_runs r ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY r.run_id DESC LIMIT ?`;
      const rows = db.prepare(sql).all(...args, limit + 1) as unknown as HeadRow[];
      const runs = rows.slice(0, limit).map(toSummary);
      return rows.length > limit ? { runs, next: encodeCursor(runs[runs.length - 1]!.run_id) } : { runs };
    },
    async verify(opts = {}): Promise<VerifyReport> {
      if (opts.runId) {
        const rows = q.entries.all(opts.runId, 0) as unknown as StoredRow[];
        const head = q.head.get(opts.runId) as HeadRow | undefined;
        return mergeSegments([walkSegment(rows)], head ? [{ runId: head.run_id, seq: head.head_seq, hash: head.head_hash }] : []);
      }
      const { heads, maxId } = snapshot();
      if (opts.workers && opts.workers > 1 && file) return mergeSegments(await verifyInParallel(db, file, maxId, opts.workers), heads);
      return mergeSegments([walkRows(db, 1, maxId)], heads);
    },
    async ready() {
      q.maxId.get();
    },
    async close() {
      // The shared connection belongs to the composition root.
    },
  };

  /**
   * Heads and the last rowid read in one read transaction: every entry up to maxId belongs to a
   * listed head, and rows are never deleted, so the scan that follows sees a consistent ledger.
   */
  function snapshot(): { heads: RunHead[]; maxId: number } {
    const own = !db.isTransaction;
    if (own) db.exec("BEGIN");
    try {
      const heads = (q.heads.all() as unknown as [string, number, string][]).map(([runId, seq, hash]) => ({ runId, seq, hash }));
      const maxId = (q.maxId.get() as { m: number | null }).m ?? 0;
      return { heads, maxId };
    } finally {
      if (own) db.exec("COMMIT");
    }
  }
}
