// ModelCallRecorder over the run Ledger: each call attempt becomes a `model_call` entry in the run's hash chain.
import { LedgerConflictError, type AppendRequest, type AppendResult, type Ledger, type TransactionalLedger } from "../orchestrator/ledger/port.js";
import type { ModelCallRecord, ModelCallRecorder } from "./recorder.js";

/**
 * A SQLite ledger and a commit on the same connection that carries other writes (the budget
 * store's settlements): each `model_call` append then shares its commit, and its fsync, with them.
 */
export interface SharedCommit {
  readonly ledger: TransactionalLedger;
  readonly commitWith: <T>(fn: () => T) => T;
}

/** Conflicts mean another writer appended first; the next seq is re-read and the append retried this many times. */
const MAX_CONFLICT_RETRIES = 20;
const MAX_CACHED_RUNS = 10_000;

export class LedgerModelCallRecorder implements ModelCallRecorder {
  /** Next seq per run as last seen; appends for one run are queued so this process never races itself. */
  private readonly nextSeq = new Map<string, number>();
  private readonly queues = new Map<string, Promise<void>>();

  constructor(
    private readonly ledger: Ledger,
    private readonly shared?: SharedCommit,
  ) {}

  record(runId: string, call: ModelCallRecord): Promise<void> {
    const prev = this.queues.get(runId) ?? Promise.resolve();
    const next = prev.then(() => this.append(runId, call));
    const tail = next.catch(() => undefined);
    this.queues.set(runId, tail);
    void tail.then(() => {
      if (this.queues.get(runId) === tail) this.queues.delete(runId);
    });
    return next;
  }

  private async append(runId: string, call: ModelCallRecord): Promise<void> {
    for (let i = 0; ; i++) {
      const expectedSeq = this.nextSeq.get(runId) ?? (await this.headSeq(runId));
      try {
        const [res] = await this.appendNow([{ runId, expectedSeq, entries: [{ type: "model_call", payload: call }] }]);
        this.nextSeq.delete(runId);
        this.nextSeq.set(runId, res!.head.seq + 1);
        // Only recent runs are worth remembering; a forgotten one costs one head read.
        if (this.nextSeq.size > MAX_CACHED_RUNS) this.nextSeq.delete(this.nextSeq.keys().next().value!);
        return;
      } catch (err) {
        if (!(err instanceof LedgerConflictError) || i >= MAX_CONFLICT_RETRIES) throw err;
        if (err.actualNextSeq !== undefined) this.nextSeq.set(runId, err.actualNextSeq);
        else this.nextSeq.delete(runId);
      }
    }
  }

  private async appendNow(requests: readonly AppendRequest[]): Promise<AppendResult[]> {
    const shared = this.shared;
    return shared ? shared.commitWith(() => shared.ledger.appendInTransaction(requests)) : this.ledger.append(requests);
  }

  private async headSeq(runId: string): Promise<number> {
    const run = await this.ledger.run(runId);
    // An unknown run gets expectedSeq 0, which the ledger refuses (a run starts with run_created): that error names the run.
    return run ? run.head.seq + 1 : 0;
  }
}
