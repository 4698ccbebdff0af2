// The embedded workflow engine: runs as rows in the shared SQLite database, step attempts leased, every transition a ledger entry.
import type { Logger } from "pino";
import type { StatementSync } from "node:sqlite";
import { inTransaction, isStoreUnavailable, type DatabaseSync } from "../../store/sqlite.js";
import {
  ActivityError,
  activityCall,
  errorMessageOf,
  errorNameOf,
  recordableOutput,
  REJECTED_ERROR,
  type Json,
  type JsonObject,
  type RunState,
} from "../activities/port.js";
import type { ActivityRegistry } from "../activities/registry.js";
import { LedgerConflictError, newRunId, type Entry, type NewEntry, type RunStatus, type TransactionalLedger } from "../ledger/port.js";
import type { RunRequest } from "../run-request.js";
import type { WorkflowCatalog } from "../workflows/catalog.js";
import { approvalChecklist, approvalProgress, decisionEffect } from "../workflows/approvals.js";
import { afterFailure, RECORD_FAILED_ERROR, TIMEOUT_ERROR } from "../workflows/policy.js";
import { failureReason, initialState, isFailureStep, nextStepId, runCreatedEntry, stepById } from "../workflows/run-state.js";
import { activityKinds, runsInContainer, type FailureStep, type StepDefinition, type WorkflowDefinition } from "../workflows/schema.js";
import { approvalOutput, cancelReason, decisionEntry, rejectionCause, RunNotFoundError, RunStateError, type Decision, type StartResult, type WorkflowEngine } from "./port.js";

export interface EmbeddedEngineOptions {
  /** The shared connection to DATA_DIR/orchestrator.db; the engine creates its `engine_runs` and `engine_run_inputs` tables. */
  readonly db: DatabaseSync;
  /** The SQLite ledger on the same connection, so a transition and its entries commit together. */
  readonly ledger: TransactionalLedger;
  readonly activities: ActivityRegistry;
  /** The workflows it runs (the built-in ones: `builtinCatalog()` from ../workflows/index.js). */
  readonly catalog: WorkflowCatalog;
  /** Names this process in leases. Leases held under the same id by an earlier (dead) process are taken back at once. */
  readonly workerId: string;
  /** Step attempts executing at once across every worker on this database. */
  readonly concurrency: number;
  /** Step attempts executing at once for one repository. */
  readonly perRepoConcurrency: number;
  /** A lease not renewed for this long is taken over by another worker. Renewed every third of it. */
  readonly leaseMs: number;
  /** How often due retries, expired leases and approval deadlines are looked for. */
  readonly pollIntervalMs: number;
  /** Recorded in run_created: the routing policy version runs are governed by. */
  readonly policyVersion: string;
  readonly logger?: Logger;
  readonly now?: () => number;
  /** Milliseconds to wait before a retry the definition delays by `seconds`; tests shorten the backoff with it. */
  readonly retryDelayMs?: (seconds: number) => number;
}

type Phase = "ready" | "leased" | "parked" | "done";

interface RunRow {
  run_id: string;
  workflow: string;
  /** The definition version the run started under; it goes on under that one only. */
  version: number;
  repo: string;
  status: RunStatus;
  phase: Phase;
  step_id: string;
  attempt: number;
  started_attempt: number;
  step_started_at: number;
  lease_token: number;
  ledger_seq: number;
  /** What steps change (outputs, the caught error) as JSON; the run's request part lives in engine_run_inputs. */
  state: string;
  run_at: number;
  deadline_at: number | null;
  lease_owner: string | null;
  lease_until: number | null;
}

/** A run row without its state column: what a transition reads and writes besides the state. */
type LeaseRow = Omit<RunRow, "state">;

/** A claimed step attempt this process is executing. */
interface Job {
  /**
   * The run's row as this worker last wrote it. While the lease holds nobody else changes it, so
   * the result is written against it with no read first: the write is fenced on the lease instead.
   */
  readonly row: LeaseRow;
  readonly state: RunState;
  readonly def: WorkflowDefinition;
}

type Outcome = { readonly ok: true; readonly output: JsonObject } | { readonly ok: false; readonly error: string; readonly message: string };

interface InFlight {
  readonly job: Job;
  readonly controller: AbortController;
  readonly done: Promise<void>;
}

const schema = `
CREATE TABLE IF NOT EXISTS engine_runs (
  run_id TEXT PRIMARY KEY,
  idempotency_key TEXT NOT NULL UNIQUE,
  workflow TEXT NOT NULL,
  version INTEGER NOT NULL,
  repo TEXT NOT NULL,
  status TEXT NOT NULL,
  phase TEXT NOT NULL CHECK (phase IN ('ready', 'leased', 'parked', 'done')),
  step_id TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  started_attempt INTEGER NOT NULL DEFAULT 0,
  step_started_at INTEGER NOT NULL DEFAULT 0,
  run_at INTEGER NOT NULL,
  deadline_at INTEGER,
  lease_owner TEXT,
  lease_until INTEGER,
  lease_token INTEGER NOT NULL DEFAULT 0,
  ledger_seq INTEGER NOT NULL,
  state TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS engine_runs_ready ON engine_runs (run_at) WHERE phase = 'ready';
CREATE INDEX IF NOT EXISTS engine_runs_lease ON engine_runs (lease_until) WHERE phase = 'leased';
CREATE INDEX IF NOT EXISTS engine_runs_repo_leased ON engine_runs (repo, lease_until) WHERE phase = 'leased';
CREATE INDEX IF NOT EXISTS engine_runs_deadline ON engine_runs (deadline_at) WHERE phase = 'parked';
CREATE TABLE IF NOT EXISTS engine_run_inputs (
  run_id TEXT PRIMARY KEY,
  run TEXT NOT NULL
);
`;

/*
 * A run's state is split in two: `run` (the request: subject, labels, requester; a webhook's worth
 * of JSON) never changes after the start, so it is written once to engine_run_inputs; engine_runs
 * keeps only what steps change. A step then serialises and rewrites a small row, not the request.
 * Stores written before the split kept the whole state in engine_runs.state: moved once, on open.
 */
const splitEarlierStates = `
INSERT OR IGNORE INTO engine_run_inputs (run_id, run)
  SELECT run_id, json_extract(state, '$.run') FROM engine_runs WHERE json_type(state, '$.run') = 'object';
UPDATE engine_runs SET state = json_remove(state, '$.run') WHERE json_type(state, '$.run') = 'object';
`;

/** The part of a run's state that steps change, as stored in engine_runs.state. */
function mutableState(state: RunState): string {
  return JSON.stringify(state.error ? { steps: state.steps, error: state.error } : { steps: state.steps });
}

/** Why a run's definition cannot be found: its workflow is gone, or only another version of it is in this build. */
function missingDefinition(row: { workflow: string; version: number }, catalog: WorkflowCatalog): string {
  const latest = catalog.named(row.workflow);
  return latest
    ? `it started under ${row.workflow} v${row.version}, which this build does not have (it has v${latest.version}; keep v${row.version} in the catalogue while its runs go on)`
    : `its workflow ${row.workflow} is not in this build`;
}

/** How soon a result the store could not take is tried again (at most; the poll interval when shorter). */
const STORE_RETRY_MS = 1_000;
/** The attempt's lease was taken over, released or cancelled while it ran. */
const LEASE_LOST_ERROR = "Engine.LeaseLost";

/** Marks a pass queued as a microtask rather than for the loop's next turn. */
const SOON: unique symbol = Symbol("soon");
const MAX_PASSES_WITHOUT_TURN = 8;

/** setTimeout's ceiling (~24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;


export class EmbeddedEngine implements WorkflowEngine {
  readonly backend = "embedded" as const;
  private readonly db: DatabaseSync;
  private readonly ledger: TransactionalLedger;
  private readonly catalog: WorkflowCatalog;
  private readonly now: () => number;
  private readonly q: Record<
    | "byKey"
    | "insert"
    | "get"
    | "leased"
    | "candidates"
    | "claim"
    | "update"
    | "renew"
    | "release"
    | "retake"
    | "expired"
    | "repoLeases"
    | "advance"
    | "ledgerSeq"
    | "insertInput"
    | "input"
    | "lease"
    | "status"
    | "shelve",
    StatementSync
  >;
  private readonly inflight = new Map<string, InFlight>();
  private pending: { job: Job; outcome: Outcome }[] = [];
  /** Results the store could not take; recorded by a later pass. */
  private deferred: { job: Job; outcome: Outcome }[] = [];
  private deferTimer: NodeJS.Timeout | undefined;
  private flushQueued: NodeJS.Immediate | typeof SOON | undefined;
  /** Passes run from a microtask since the event loop last had a turn. */
  private passesWithoutTurn = 0;
  private pollDue = false;
  private timers: NodeJS.Timeout[] = [];
  private running = false;
  private stopping = false;

  constructor(private readonly opts: EmbeddedEngineOptions) {
    this.db = opts.db;
    this.ledger = opts.ledger;
    this.catalog = opts.catalog;
    this.now = opts.now ?? Date.now;
    const split = this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'engine_run_inputs'").get() !== undefined;
    // One transaction: a crash or an error in the conversion leaves neither the new table nor a
    // half-converted store, so the next open converts again.
    inTransaction(this.db, () => {
      this.db.exec(schema);
      if (!split) this.db.exec(splitEarlierStates);
    });
    const p = (sql: string) => this.db.prepare(sql);
    this.q = {
      byKey: p("SELECT run_id FROM engine_runs WHERE idempotency_key = ?"),
      insert: p(
        `INSERT INTO engine_runs (run_id, idempotency_key, workflow, version, repo, status, phase, step_id, attempt, run_at, ledger_seq, state, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, 'queued', 'ready', ?, 1, ?, ?, ?, ?, ?)`,
      ),
      get: p("SELECT * FROM engine_runs WHERE run_id = ?"),
      leased: p("SELECT count(*) AS n FROM engine_runs WHERE phase = 'leased' AND lease_until > ?"),
      // Due work whose repository is under its limit, oldest first; an expired lease counts as due.
      // Two index range scans (not an OR, which would scan every row: parked runs included).
      candidates: p(
        `SELECT run_id, repo FROM (
           SELECT run_id, repo, run_at FROM engine_runs WHERE phase = 'ready' AND run_at <= :now
           UNION ALL
           SELECT run_id, repo, run_at FROM engine_runs WHERE phase = 'leased' AND lease_until <= :now
         ) r
         WHERE (SELECT count(*) FROM engine_runs l WHERE l.phase = 'leased' AND l.repo = r.repo AND l.lease_until > :now) < :per_repo
         ORDER BY run_at LIMIT :limit`,
      ),
      claim: p(
        `UPDATE engine_runs SET phase = 'leased', lease_owner = ?, lease_until = ?, lease_token = lease_token + 1, updated_at = ?
         WHERE run_id = ? AND ((phase = 'ready' AND run_at <= ?) OR (phase = 'leased' AND lease_until <= ?))
         RETURNING *`,
      ),
      insertInput: p("INSERT INTO engine_run_inputs (run_id, run) VALUES (?, ?)"),
      input: p("SELECT run FROM engine_run_inputs WHERE run_id = ?"),
      // A null state leaves the stored one as it is (agent steps and retries do not change it).
      update: p(
        `UPDATE engine_runs SET status = ?, phase = ?, step_id = ?, attempt = ?, started_attempt = ?, step_started_at = ?, run_at = ?,
           deadline_at = ?, lease_owner = ?, lease_until = ?, ledger_seq = ?, updated_at = ?, state = coalesce(?, state)
         WHERE run_id = ? AND lease_token = ? AND phase = ?`,
      ),
      // The worker keeps its lease into the next step: lease, phase and queue columns (and their indexes) stay as they are.
      advance: p(
        `UPDATE engine_runs SET status = ?, step_id = ?, attempt = ?, started_attempt = ?, step_started_at = ?, ledger_seq = ?, updated_at = ?, state = coalesce(?, state)
         WHERE run_id = ? AND lease_token = ? AND phase = 'leased'`,
      ),
      ledgerSeq: p("UPDATE engine_runs SET ledger_seq = ? WHERE run_id = ?"),
      // Everything but the state: a lease holder has the state in hand.
      lease: p(
        `SELECT run_id, workflow, version, repo, status, phase, step_id, attempt, started_attempt, step_started_at, lease_token, ledger_seq,
           run_at, deadline_at, lease_owner, lease_until FROM engine_runs WHERE run_id = ?`,
      ),
      // One attempt's lease, renewed only while it is still this attempt's (not taken over, cancelled or released).
      renew: p("UPDATE engine_runs SET lease_until = ? WHERE run_id = ? AND lease_token = ? AND phase = 'leased'"),
      release: p("UPDATE engine_runs SET phase = 'ready', run_at = ?, lease_owner = NULL, lease_until = NULL WHERE run_id = ? AND lease_owner = ? AND lease_token = ? AND phase = 'leased'"),
      retake: p("UPDATE engine_runs SET lease_until = 0 WHERE lease_owner = ? AND phase = 'leased'"),
      expired: p("SELECT * FROM engine_runs WHERE phase = 'parked' AND deadline_at <= ? ORDER BY deadline_at LIMIT 100"),
      status: p("SELECT status FROM engine_runs WHERE run_id = ?"),
      shelve: p("UPDATE engine_runs SET status = 'failed', phase = 'done', lease_owner = NULL, lease_until = NULL, updated_at = ? WHERE run_id = ?"),
      repoLeases: p("SELECT count(*) AS n FROM engine_runs WHERE phase = 'leased' AND repo = ? AND lease_until > ?"),
    };
  }

  // -------------------------------------------------------------------------------------------
  // The port
  // -------------------------------------------------------------------------------------------

  /** `request` is typed data its producer validated (triggers, slash commands, the API): the engine does not parse it again. */
  async start(request: RunRequest): Promise<StartResult> {
    const def = this.catalog.forRunType(request.run_type);
    let launch: Job[] = [];
    const result = inTransaction(this.db, () => {
      const existing = this.q.byKey.get(request.idempotency_key) as { run_id: string } | undefined;
      if (existing) return { runId: existing.run_id, created: false };
      const now = this.now();
      const runId = newRunId(now);
      const state = initialState(runId, request, def);
      const seq = this.append(runId, 0, [runCreatedEntry(request, def, this.opts.policyVersion)]);
      this.q.insert.run(runId, request.idempotency_key, def.name, def.version, request.repo.full_path, def.steps[0]!.id, now, seq, mutableState(state), now, now);
      this.q.insertInput.run(runId, JSON.stringify(state.run));
      // A free slot takes the new run in the same commit: no second fsync before its first step.
      launch = this.claimable() ? this.claim(now, this.opts.concurrency - this.inflight.size) : [];
      return { runId, created: true };
    });
    for (const job of launch) this.launch(job);
    return result;
  }

  async decide(runId: string, decision: Decision): Promise<void> {
    // The checklist so far is read from the ledger; the decision is appended conditionally on
    // what was read, so two decisions arriving together cannot both miss each other.
    for (let tries = 1; ; tries++) {
      const entries = await this.ledger.entries(runId);
      try {
        return this.decideOn(runId, decision, entries);
      } catch (err) {
        if (!(err instanceof LedgerConflictError) || tries >= 5) throw err;
      }
    }
  }

  private decideOn(runId: string, decision: Decision, entries: readonly Entry[]): void {
    let launch: Job[] = [];
    inTransaction(this.db, () => {
      const row = this.row(runId);
      const def = this.catalog.at(row.workflow, row.version);
      if (!def) throw new RunStateError(runId, `${missingDefinition(row, this.catalog)}; it cannot take a decision (cancel it instead)`);
      const step = stepById(def, row.step_id);
      const progress = approvalProgress(entries);
      if (row.phase !== "parked" || !step || activityKinds[step.activity] !== "approval" || !progress?.open || progress.step !== step.id)
        throw new RunStateError(runId, `is not waiting for a decision (status ${row.status}, step ${row.step_id})`);
      const effect = decisionEffect(progress, decision);
      if (effect.effect === "invalid") throw new RunStateError(runId, effect.reason);
      const recorded = this.ledger.appendInTransaction([{ runId, expectedSeq: entries.length, entries: [decisionEntry(step.id, decision)] }]);
      const current: RunRow = { ...row, ledger_seq: recorded[0]!.head.seq + 1 };
      if (effect.effect === "wait") {
        // Recorded; the run keeps waiting for the remaining items (or a decision after changes were requested).
        this.q.update.run(...this.columns(current, {}));
        return;
      }
      const t = this.transition(current, def, this.state(row), this.now());
      if (effect.effect === "resume") t.succeeded(step, approvalOutput(decision, progress.checklist));
      else t.failed(step, REJECTED_ERROR, rejectionCause(decision));
      this.commit(t, false);
      // The resumed run is taken in the same commit when a slot is free: one fsync from decision to next step.
      if (this.claimable()) launch = this.claim(this.now(), this.opts.concurrency - this.inflight.size);
    });
    for (const job of launch) this.launch(job);
  }

  async cancel(runId: string, by: { by: string; reason?: string }): Promise<void> {
    inTransaction(this.db, () => {
      const row = this.row(runId);
      if (row.phase === "done") throw new RunStateError(runId, `has already ended (${row.status}); nothing to cancel`);
      // Ending a run needs neither its definition nor its state: a run whose workflow left this build can still be cancelled.
      const t = this.transition(row, this.catalog.at(row.workflow, row.version), undefined, this.now());
      t.end("cancelled", cancelReason(by));
      this.commit(t, false);
    });
    // Its attempt (if this process runs it) is aborted; the completion finds the lease gone and is dropped.
    this.inflight.get(runId)?.controller.abort(new ActivityError("Run.Cancelled", "the run was cancelled"));
  }

  async status(runId: string): Promise<RunStatus | undefined> {
    return (this.q.status.get(runId) as { status: RunStatus } | undefined)?.status;
  }

  // -------------------------------------------------------------------------------------------
  // Worker lifecycle
  // -------------------------------------------------------------------------------------------

  /** Starts taking work: takes back this worker id's leases from a previous process, then polls. */
  startWorker(): void {
    if (this.running) return;
    this.running = true;
    this.stopping = false;
    this.q.retake.run(this.opts.workerId);
    const every = (ms: number, fn: () => void) => {
      const t = setInterval(fn, ms);
      t.unref();
      this.timers.push(t);
    };
    every(this.opts.pollIntervalMs, () => this.wake(true));
    every(Math.max(1, Math.floor(this.opts.leaseMs / 3)), () => this.heartbeat());
    this.wake(true);
  }

  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    clearTimeout(this.deferTimer);
    this.deferTimer = undefined;
    this.pending.push(...this.deferred.splice(0));
    const all = () => Promise.all([...this.inflight.values()].map((f) => f.done));
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
    await Promise.race([all(), graceOver]);
    clearTimeout(timer);
    try {
      // Results that came in are recorded first; only what is still running is abandoned.
      this.flush();
      clearTimeout(this.deferTimer);
      // Its lease is released so the next worker starts it over (a result the store could not take is run again).
      for (const f of this.inflight.values()) {
        f.controller.abort(new ActivityError("Engine.Stopping", "the engine is shutting down"));
        try {
          this.q.release.run(this.now(), f.job.row.run_id, this.opts.workerId, f.job.row.lease_token);
        } catch (err) {
          // Not released: the lease runs out and the next worker takes the attempt over then.
          this.opts.logger?.warn({ err, run_id: f.job.row.run_id }, "engine: could not release a lease at shutdown");
        }
      }
    } finally {
      this.deferTimer = undefined;
      this.deferred = [];
      this.inflight.clear();
      this.running = false;
    }
  }

  /** Runs a pass soon: applies finished attempts and claims due work, in one commit. */
  private wake(poll = false): void {
    if (poll) this.pollDue = true;
    if (this.flushQueued || !this.running) return;
    // Every attempt in flight has reported: waiting a loop turn would batch nothing more, so the
    // pass runs as soon as this callback ends. Activities that finish at once would chain passes
    // forever, so every few passes the event loop gets its turn (HTTP, timers).
    if (!poll && this.pending.length === this.inflight.size && this.passesWithoutTurn < MAX_PASSES_WITHOUT_TURN) {
      this.passesWithoutTurn++;
      this.flushQueued = SOON;
      queueMicrotask(() => {
        if (this.flushQueued === SOON) this.flush();
      });
      return;
    }
    this.passesWithoutTurn = 0;
    this.flushQueued = setImmediate(() => this.flush());
  }

  /**
   * Renews each running attempt's lease, fenced on it, in one commit. An attempt whose lease is
   * gone (taken over after a stall, released, its run cancelled by another process) is aborted:
   * its result could not be recorded, and another worker may be running it.
   */
  private heartbeat(): void {
    if (this.inflight.size === 0) return;
    const until = this.now() + this.opts.leaseMs;
    const lost: InFlight[] = [];
    try {
      inTransaction(this.db, () => {
        for (const f of this.inflight.values()) if (this.q.renew.run(until, f.job.row.run_id, f.job.row.lease_token).changes === 0) lost.push(f);
      });
    } catch (err) {
      this.opts.logger?.warn({ err }, "engine: lease renewal failed; will retry");
      return;
    }
    for (const f of lost) {
      this.inflight.delete(f.job.row.run_id);
      f.controller.abort(new ActivityError(LEASE_LOST_ERROR, `step ${f.job.row.step_id} lost its lease; its result would not be recorded`));
    }
  }

  /**
   * One commit for every attempt that finished since the last pass plus the claims of new work:
   * under load many runs share one fsync (group commit); a single run pays one commit per step.
   */
  private flush(): void {
    if (this.flushQueued !== SOON) clearImmediate(this.flushQueued);
    this.flushQueued = undefined;
    const done = this.pending;
    this.pending = [];
    const poll = this.pollDue;
    this.pollDue = false;
    let launch: Job[];
    try {
      launch = inTransaction(this.db, () => this.pass(done, poll));
      this.settled(done);
    } catch (err) {
      // One bad transition must not hold back the others: retry them one by one.
      this.opts.logger?.warn({ err }, "engine: batched transition failed; applying one by one");
      launch = [];
      for (const d of done) {
        try {
          launch.push(...inTransaction(this.db, () => this.pass([d], false)));
          this.settled([d]);
        } catch (e) {
          if (!isStoreUnavailable(e)) {
            this.opts.logger?.error({ err: e, run_id: d.job.row.run_id, step: d.job.row.step_id }, "engine: could not record a step result; failing the step");
            const next = this.failHard(d.job, e);
            if (next) {
              this.settled([d]);
              launch.push(...next);
              continue;
            }
          }
          // Busy or failing storage: the result is kept (and its lease renewed) for a later pass.
          this.opts.logger?.warn({ err: e, run_id: d.job.row.run_id, step: d.job.row.step_id }, "engine: store unavailable; will record the step result later");
          this.deferResult(d);
        }
      }
    }
    for (const job of launch) this.launch(job);
  }

  /** Attempts whose results are recorded: no longer in flight (their runs' next steps are launched after). */
  private settled(done: readonly { job: Job }[]): void {
    // By job, not by run: a late result must not take the entry of a newer attempt of the same run.
    for (const { job } of done) if (this.inflight.get(job.row.run_id)?.job === job) this.inflight.delete(job.row.run_id);
  }

  private deferResult(d: { job: Job; outcome: Outcome }): void {
    this.deferred.push(d);
    this.deferTimer ??= setTimeout(() => {
      this.deferTimer = undefined;
      this.pending.push(...this.deferred.splice(0));
      this.wake();
    }, Math.min(this.opts.pollIntervalMs, STORE_RETRY_MS)).unref();
  }

  private pass(done: readonly { job: Job; outcome: Outcome }[], poll: boolean): Job[] {
    const launch: Job[] = [];
    const now = this.now();
    for (const { job, outcome } of done) {
      const next = this.complete(job, outcome, now);
      if (next) launch.push(next);
    }
    if (poll) this.expireApprovals(now);
    // New work is looked for when a slot came free (a run ended, parked or waits for a retry) or at a
    // poll; a run that only moved to its next step freed nothing, and its pass reads no queue.
    // The finished attempts still count in `inflight` until the pass commits; their slots are free.
    if (this.claimable() && (poll || launch.length < done.length))
      launch.push(...this.claim(now, this.opts.concurrency - (this.inflight.size - done.length) - launch.length));
    return launch;
  }

  private claimable(): boolean {
    return this.running && !this.stopping;
  }

  // -------------------------------------------------------------------------------------------
  // Transitions
  // -------------------------------------------------------------------------------------------

  private claim(now: number, slots: number): Job[] {
    if (slots <= 0) return [];
    const busy = (this.q.leased.get(now) as { n: number }).n;
    let free = Math.min(slots, this.opts.concurrency - busy);
    if (free <= 0) return [];
    const perRepo = this.opts.perRepoConcurrency;
    const rows = this.q.candidates.all({ now, per_repo: perRepo, limit: free * 4 }) as { run_id: string; repo: string }[];
    const takenPerRepo = new Map<string, number>();
    const jobs: Job[] = [];
    for (const c of rows) {
      if (free <= 0) break;
      // The query counted leases before this pass; count the ones it hands out too.
      const taken = takenPerRepo.get(c.repo) ?? 0;
      if (taken > 0 && this.repoLeases(c.repo, now) >= perRepo) continue;
      // Its lease ran out while this process still runs it (a stalled event loop, a clock step): the heartbeat renews it.
      if (this.inflight.has(c.run_id)) continue;
      const claimed = this.isolated(c.run_id, now, () => {
        const row = this.q.claim.get(this.opts.workerId, now + this.opts.leaseMs, now, c.run_id, now, now) as RunRow | undefined;
        return row && { job: this.begin(row, now) };
      });
      if (!claimed) continue;
      takenPerRepo.set(c.repo, taken + 1);
      free--;
      if (claimed.job) jobs.push(claimed.job);
    }
    return jobs;
  }

  private repoLeases(repo: string, now: number): number {
    return (this.q.repoLeases.get(repo, now) as { n: number }).n;
  }

  /** A freshly claimed row: records step_started (once per attempt; a resumed attempt keeps its entry) and the running status. */
  private begin(row: RunRow, now: number): Job | undefined {
    const def = this.catalog.at(row.workflow, row.version);
    const step = def && stepById(def, row.step_id);
    // The job keeps the row without its serialised state: the parsed state travels beside it.
    const { state: _serialised, ...lease } = row;
    if (!def || !step) {
      this.endUnrunnable(lease, def, now);
      return undefined;
    }
    const t = this.transition(lease, def, this.state(row), now);
    if (row.status !== "running") t.setStatus("running");
    if (row.started_attempt !== row.attempt) t.startAttempt();
    return this.commit(t, true);
  }

  private complete(job: Job, outcome: Outcome, now: number): Job | undefined {
    const def = job.def;
    const step = stepById(def, job.row.step_id)!;
    // While the lease holds, nobody else changes the run, so the row and state in hand are the stored ones;
    // the write is fenced on the lease (see commit), which drops the result of a cancelled run or a lost lease.
    const t = this.transition(job.row, def, job.state, now);
    if (!outcome.ok) t.failed(step, outcome.error, outcome.message);
    else if (activityKinds[step.activity] === "approval") t.park(step, outcome.output);
    else t.succeeded(step, outcome.output);
    return this.commit(t, true);
  }

  /**
   * A result that cannot be recorded (its entry refused) fails the step instead, so the definition's
   * catch runs the failure report. If that cannot be written either, the run is ended (or taken out
   * of the queue): left leased, it would run the step again at every lease expiry. Returns the
   * failure step to launch, or undefined when the store is unavailable and the result should wait.
   */
  private failHard(job: Job, err: unknown): Job[] | undefined {
    const reason = `the result of step ${job.row.step_id} could not be recorded: ${errorMessageOf(err)}`;
    const stillOurs = () => {
      const row = this.q.lease.get(job.row.run_id) as LeaseRow | undefined;
      return row?.phase === "leased" && row.lease_token === job.row.lease_token ? row : undefined;
    };
    try {
      return inTransaction(this.db, () => {
        const row = stillOurs();
        if (!row) return [];
        const t = this.transition(row, job.def, job.state, this.now());
        t.failed(stepById(job.def, row.step_id)!, RECORD_FAILED_ERROR, reason);
        const next = this.commit(t, true);
        return next ? [next] : [];
      });
    } catch (e) {
      if (isStoreUnavailable(e)) return undefined;
      this.opts.logger?.error({ err: e, run_id: job.row.run_id }, "engine: could not record the step's failure either; ending the run");
      try {
        inTransaction(this.db, () => {
          if (stillOurs()) this.quarantine(job.row.run_id, e, this.now());
        });
        return [];
      } catch (last) {
        if (isStoreUnavailable(last)) return undefined;
        // Not even that: the lease runs out and the attempt is taken again (activities are idempotent).
        this.opts.logger?.error({ err: last, run_id: job.row.run_id }, "engine: could not take the run out of the queue");
        return [];
      }
    }
  }

  /** Ends a run whose definition (or its current step) is not in this build, saying which. */
  private endUnrunnable(row: LeaseRow, def: WorkflowDefinition | undefined, now: number): void {
    const t = this.transition(row, def, undefined, now);
    t.end("failed", `${def ? `${row.workflow} v${row.version} has no step ${row.step_id}` : missingDefinition(row, this.catalog)}; the run cannot continue`);
    this.commit(t, false);
  }

  /**
   * `fn` for one run, in a savepoint of the pass: a run whose stored state cannot be read (or
   * whose transition throws) fails alone, instead of rolling back the pass and with it every
   * other run's progress, the start or the decision it was part of.
   */
  private isolated<T>(runId: string, now: number, fn: () => T): T | undefined {
    this.db.exec("SAVEPOINT engine_run");
    try {
      const out = fn();
      this.db.exec("RELEASE engine_run");
      return out;
    } catch (err) {
      // A store that cannot take writes now is not this run's fault: the pass fails and is tried again.
      // (SQLite may already have rolled the whole transaction back, savepoint included.)
      if (isStoreUnavailable(err) || !this.db.isTransaction) throw err;
      this.db.exec("ROLLBACK TO engine_run");
      this.db.exec("RELEASE engine_run");
      this.quarantine(runId, err, now);
      return undefined;
    }
  }

  /** Ends a run the engine cannot continue, saying why; if not even that can be recorded, takes it out of the queue. */
  private quarantine(runId: string, err: unknown, now: number): void {
    const reason = `the engine cannot continue this run: ${errorMessageOf(err)}`;
    this.opts.logger?.error({ err, run_id: runId }, "engine: failing a run it cannot continue");
    this.db.exec("SAVEPOINT engine_quarantine");
    try {
      const row = this.row(runId);
      const t = this.transition(row, undefined, undefined, now);
      t.end("failed", reason);
      this.commit(t, false);
      this.db.exec("RELEASE engine_quarantine");
    } catch (e) {
      if (isStoreUnavailable(e) || !this.db.isTransaction) throw e;
      this.db.exec("ROLLBACK TO engine_quarantine");
      this.db.exec("RELEASE engine_quarantine");
      this.opts.logger?.error({ err: e, run_id: runId }, "engine: could not record the failure either; the run is taken out of the queue, its ledger does not say so");
      this.q.shelve.run(now, runId);
    }
  }

  private expireApprovals(now: number): void {
    for (const row of this.q.expired.all(now) as unknown as RunRow[]) {
      this.isolated(row.run_id, now, () => {
        const def = this.catalog.at(row.workflow, row.version);
        const step = def && stepById(def, row.step_id);
        if (!def || !step) return this.endUnrunnable(row, def, now);
        const t = this.transition(row, def, this.state(row), now);
        t.failed(step, TIMEOUT_ERROR, `no decision within ${step.timeout_seconds} s`);
        return this.commit(t, false);
      });
    }
  }

  /**
   * Writes a transition: the run row, fenced on the lease token and phase of the row it was made
   * from, then its ledger entries (conditional on the run's seq), in the caller's transaction. A run
   * that moved on meanwhile (cancelled, its lease taken over or released) writes nothing. Returns
   * the job to execute when this worker keeps the run.
   */
  private commit(t: Transition, mayContinue: boolean): Job | undefined {
    const keep = mayContinue && t.phase === "leased" && this.running && !this.stopping;
    if (t.phase === "leased" && !keep) t.releaseLease();
    const { row } = t;
    const runId = row.run_id;
    // Entries other components appended meanwhile move the seq on; the row is corrected below.
    const expectedSeq = row.ledger_seq + t.entries.length;
    const state = t.stateChanged ? mutableState(t.state) : null;
    let set: Partial<LeaseRow>;
    let written: number | bigint;
    if (keep && row.phase === "leased" && row.lease_owner === this.opts.workerId) {
      set = { status: t.status, step_id: t.stepId, attempt: t.attempt, started_attempt: t.startedAttempt, step_started_at: t.stepStartedAt, ledger_seq: expectedSeq };
      written = this.q.advance.run(t.status, t.stepId, t.attempt, t.startedAttempt, t.stepStartedAt, expectedSeq, t.now, state, runId, row.lease_token).changes;
    } else {
      set = {
        status: t.status,
        phase: t.phase,
        step_id: t.stepId,
        attempt: t.attempt,
        started_attempt: t.startedAttempt,
        step_started_at: t.stepStartedAt,
        run_at: t.runAt,
        deadline_at: t.deadlineAt,
        lease_owner: keep ? this.opts.workerId : null,
        lease_until: keep ? t.now + this.opts.leaseMs : null,
        ledger_seq: expectedSeq,
      };
      written = this.q.update.run(...this.columns(row, set, state)).changes;
    }
    if (written === 0) return undefined;
    const seq = this.append(runId, row.ledger_seq, t.entries);
    if (seq !== expectedSeq) {
      this.q.ledgerSeq.run(seq, runId);
      set.ledger_seq = seq;
    }
    if (!keep || !t.def) return undefined;
    return { row: { ...row, ...set }, state: t.state, def: t.def };
  }

  /** The update statement's parameters, fenced on `row`'s lease token and phase; a null state keeps the stored one. */
  private columns(row: LeaseRow, set: Partial<LeaseRow>, state: string | null = null): (string | number | null)[] {
    const v = { ...row, ...set };
    return [
      v.status,
      v.phase,
      v.step_id,
      v.attempt,
      v.started_attempt,
      v.step_started_at,
      v.run_at,
      v.deadline_at ?? null,
      v.lease_owner ?? null,
      v.lease_until ?? null,
      v.ledger_seq,
      this.now(),
      state,
      row.run_id,
      row.lease_token,
      row.phase,
    ];
  }

  /** Appends entries at the run's next seq; entries other components added meanwhile just move the seq on. */
  private append(runId: string, seq: number, entries: readonly NewEntry[]): number {
    if (entries.length === 0) return seq;
    const request = (expectedSeq: number) => [{ runId, expectedSeq, entries }];
    try {
      return this.ledger.appendInTransaction(request(seq))[0]!.head.seq + 1;
    } catch (err) {
      if (err instanceof LedgerConflictError && err.actualNextSeq !== undefined && err.actualNextSeq > seq)
        return this.ledger.appendInTransaction(request(err.actualNextSeq))[0]!.head.seq + 1;
      throw err;
    }
  }

  /** `state` may be left out for a transition that only ends the run (it does not read or change the state). */
  private transition(row: LeaseRow, def: WorkflowDefinition | undefined, state: RunState | undefined, now: number): Transition {
    return new Transition(row, def, state, now, this.opts.retryDelayMs ?? ((seconds) => seconds * 1000));
  }

  private row(runId: string): RunRow {
    const row = this.q.get.get(runId) as RunRow | undefined;
    if (!row) throw new RunNotFoundError(runId);
    return row;
  }

  /** The whole state of a run read from its row: the request part joined back to what steps changed. */
  private state(row: RunRow): RunState {
    const changed = JSON.parse(row.state) as Omit<RunState, "run">;
    const input = this.q.input.get(row.run_id) as { run: string } | undefined;
    if (!input)
      throw new RunStateError(row.run_id, "has no stored request (engine_run_inputs); the store is damaged: start the run again (`/orchestrator retry`) or restore the database from a backup");
    return { run: JSON.parse(input.run) as RunState["run"], ...changed };
  }

  // -------------------------------------------------------------------------------------------
  // Executing attempts
  // -------------------------------------------------------------------------------------------

  private launch(job: Job): void {
    const { run_id: runId, attempt } = job.row;
    const step = stepById(job.def, job.row.step_id)!;
    const controller = new AbortController();
    // An attempt taken over after a crash or a stop starts its work over, with its whole time.
    const deadline = this.now() + step.timeout_seconds * 1000;
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      const left = deadline - this.now();
      if (left <= 0) controller.abort(new ActivityError(TIMEOUT_ERROR, `step ${step.id} attempt ${attempt} ran longer than ${step.timeout_seconds} s`));
      // setTimeout's ceiling is about 24.8 days: a longer timeout is waited out in parts.
      else timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
    };
    arm();
    const done = this.execute(job, step, controller.signal).then((outcome) => {
      clearTimeout(timer);
      if (this.inflight.get(runId)?.controller !== controller) return; // abandoned by stop()
      this.pending.push({ job, outcome });
      this.wake();
    });
    this.inflight.set(runId, { job, controller, done });
  }

  private async execute(job: Job, step: StepDefinition | FailureStep, signal: AbortSignal): Promise<Outcome> {
    const aborted = new Promise<never>((_, reject) => {
      signal.addEventListener("abort", () => reject(signal.reason), { once: true });
    });
    try {
      const activity = this.opts.activities.get(step.activity);
      const output = await Promise.race([activity(activityCall(job.row.run_id, step, job.row.attempt, job.state, signal)), aborted]);
      return { ok: true, output: recordableOutput(output) };
    } catch (err) {
      return { ok: false, error: errorNameOf(err), message: errorMessageOf(err) };
    }
  }
}

/** The changes one event makes to a run (a step finished, failed, was decided, timed out, was cancelled), before they are written. */
class Transition {
  status: RunStatus;
  phase: Phase;
  stepId: string;
  attempt: number;
  startedAttempt: number;
  stepStartedAt: number;
  runAt: number;
  deadlineAt: number | null = null;
  /** The ledger entries this transition appends, in order. */
  readonly entries: NewEntry[] = [];
  private current: RunState | undefined;
  private readonly initial: RunState | undefined;

  constructor(
    readonly row: LeaseRow,
    readonly def: WorkflowDefinition | undefined,
    state: RunState | undefined,
    readonly now: number,
    private readonly retryDelayMs: (seconds: number) => number,
  ) {
    this.current = state;
    this.initial = state;
    this.status = row.status;
    this.phase = row.phase;
    this.stepId = row.step_id;
    this.attempt = row.attempt;
    this.startedAttempt = row.started_attempt;
    this.stepStartedAt = row.step_started_at;
    this.runAt = now;
  }

  get state(): RunState {
    // A programming error (a transition that only ends a run asked for its state), not the user's.
    if (!this.current) throw new Error(`engine: the state of ${this.row.run_id} was not read for this transition`);
    return this.current;
  }

  set state(next: RunState) {
    this.current = next;
  }

  /** Agent steps, retries and endings leave the state as it was: nothing to re-serialise. */
  get stateChanged(): boolean {
    return this.current !== this.initial;
  }

  setStatus(to: RunStatus, reason?: string): void {
    if (this.status === to) return;
    this.status = to;
    this.entries.push({ type: "status_changed", payload: { to, ...(reason ? { reason } : {}) } });
  }

  startAttempt(): void {
    this.startedAttempt = this.attempt;
    this.stepStartedAt = this.now;
    this.entries.push({ type: "step_started", payload: { step: this.stepId, attempt: this.attempt } });
  }

  releaseLease(): void {
    this.phase = "ready";
  }

  end(status: "succeeded" | "failed" | "cancelled", reason?: string): void {
    this.setStatus(status, reason);
    this.phase = "done";
  }

  /** Moves to step `id`, attempt 1: this worker keeps the lease and runs it next (or releases it to the queue). */
  private goTo(id: string): void {
    this.stepId = id;
    this.attempt = 1;
    this.setStatus("running");
    this.phase = "leased";
    this.startAttempt();
  }

  succeeded(step: StepDefinition | FailureStep, output: Json): void {
    this.entries.push({ type: "step_finished", payload: { step: step.id, attempt: this.attempt, output } });
    const def = this.def!;
    // A container step's output is its artifacts in the ledger, not state: on Step Functions it never reaches the state either.
    if (!runsInContainer(step.activity)) this.state = { ...this.state, steps: { ...this.state.steps, [step.id]: { output } } };
    if (isFailureStep(def, step.id)) return this.end("failed", failureReason(this.state));
    const next = nextStepId(def, step.id, this.state.run.stop_after);
    if (next === null) return this.end("succeeded");
    this.goTo(next);
  }

  failed(step: StepDefinition | FailureStep, error: string, message: string): void {
    this.entries.push({ type: "step_failed", payload: { step: step.id, attempt: this.attempt, error, message } });
    const def = this.def!;
    const failure = isFailureStep(def, step.id);
    const after = afterFailure(failure ? { retry: step.retry } : step, this.attempt, error);
    if (after.action === "retry") {
      this.attempt += 1;
      this.setStatus("running");
      this.phase = "ready";
      this.runAt = this.now + this.retryDelayMs(after.delaySeconds);
      return;
    }
    if (failure) return this.end("failed", `${failureReason(this.state)}; the failure report failed too: ${error}: ${message}`);
    this.state = { ...this.state, error: { Error: error, Cause: message } };
    if (after.action === "catch") return this.goTo(def.on_failure.id);
    this.end("failed", `${step.id} failed: ${error}: ${message}`);
  }

  /** The approval request went out: the run waits as a row, with no timer, until a decision or its deadline. */
  park(step: StepDefinition | FailureStep, output: JsonObject): void {
    this.entries.push({ type: "approval_requested", payload: { step: step.id, attempt: this.attempt, checklist: approvalChecklist(output) } });
    this.setStatus("awaiting_human");
    this.phase = "parked";
    this.deadlineAt = this.stepStartedAt + step.timeout_seconds * 1000;
  }
}
