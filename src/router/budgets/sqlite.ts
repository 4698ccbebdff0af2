// BudgetStore over the shared SQLite database: a reservation is checked and inserted in one IMMEDIATE transaction.
import { ulid } from "ulid";
import { inTransaction, type DatabaseSync } from "../../store/sqlite.js";
import type { Role } from "../policy.js";
import { fromMicros, toMicros, usd, type BudgetStore, type ReserveRequest, type ReserveResult, type RunUsage } from "./port.js";

export class SqliteBudgetStore implements BudgetStore {
  private readonly runTotals;
  private readonly roleTotal;
  private readonly insert;
  private readonly update;
  private readonly byRole;

  constructor(private readonly db: DatabaseSync) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS router_budget_reservations (
        id TEXT PRIMARY KEY,
        run_id TEXT NOT NULL,
        role TEXT NOT NULL,
        tokens INTEGER NOT NULL,
        cost_micros INTEGER NOT NULL,
        settled INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS router_budget_reservations_run ON router_budget_reservations (run_id, role);
    `);
    this.runTotals = db.prepare(
      "SELECT COUNT(*) AS calls, COALESCE(SUM(tokens), 0) AS tokens, COALESCE(SUM(cost_micros), 0) AS micros FROM router_budget_reservations WHERE run_id = ?",
    );
    this.roleTotal = db.prepare("SELECT COALESCE(SUM(cost_micros), 0) AS micros FROM router_budget_reservations WHERE run_id = ? AND role = ?");
    this.insert = db.prepare(
      "INSERT INTO router_budget_reservations (id, run_id, role, tokens, cost_micros, created_at) VALUES (?, ?, ?, ?, ?, ?)",
    );
    this.update = db.prepare("UPDATE router_budget_reservations SET tokens = ?, cost_micros = ?, settled = 1 WHERE id = ? AND settled = 0");
    this.byRole = db.prepare("SELECT role, SUM(cost_micros) AS micros FROM router_budget_reservations WHERE run_id = ? GROUP BY role");
  }

  /**
   * Settlements wait for the next commit on this connection: the call's `model_call` ledger
   * append (see `commitWith`), else the next reservation's, else a flush shortly after. A call
   * then costs no commit of its own for settling. Losing them in a crash only leaves reservations
   * at their estimate, which errs on the side of the limit.
   */
  private readonly pending = new Map<string, { tokens: number; micros: number }>();
  private flushTimer: NodeJS.Timeout | undefined;

  async reserve(req: ReserveRequest): Promise<ReserveResult> {
    const cost = toMicros(req.costUsd);
    return inTransaction(this.db, (): ReserveResult => {
      this.applyPending();
      const run = this.runTotals.get(req.runId) as { calls: number; tokens: number; micros: number };
      if (run.calls >= req.limits.maxCallsPerRun)
        return { ok: false, reason: `run ${req.runId} has made ${run.calls} model calls, the policy's max_calls_per_run` };
      if (run.micros + cost > toMicros(req.limits.maxCostPerRunUsd)) {
        return {
          ok: false,
          reason: `run budget exhausted: ${usd(fromMicros(run.micros))} spent or reserved + ${usd(req.costUsd)} for this call > max_cost_per_run_usd ${usd(req.limits.maxCostPerRunUsd)}`,
        };
      }
      if (req.limits.maxCostPerRoleUsd !== undefined) {
        const role = this.roleTotal.get(req.runId, req.role) as { micros: number };
        if (role.micros + cost > toMicros(req.limits.maxCostPerRoleUsd)) {
          return {
            ok: false,
            reason: `${req.role} budget exhausted: ${usd(fromMicros(role.micros))} spent or reserved + ${usd(req.costUsd)} for this call > max_cost_per_role_usd.${req.role} ${usd(req.limits.maxCostPerRoleUsd)}`,
          };
        }
      }
      const id = ulid();
      this.insert.run(id, req.runId, req.role, req.tokens, cost, new Date().toISOString());
      return { ok: true, id };
    });
  }

  async settle(id: string, actual: { tokens: number; costUsd: number }): Promise<void> {
    if (!this.pending.has(id)) this.pending.set(id, { tokens: actual.tokens, micros: toMicros(actual.costUsd) });
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = undefined;
      try {
        this.flush();
      } catch {
        // Busy or closing: the settlements stay pending for the next reservation or flush.
      }
    }, 200).unref();
  }

  /**
   * Runs `fn` (writes on this same connection, e.g. a ledger append) in one transaction with the
   * waiting settlements, so both reach the disk in one commit. Settlements are dropped from the
   * queue only once that commit succeeded: if `fn` throws, the rollback undoes them too, and they
   * wait for the next commit (writing one twice is harmless: the UPDATE skips settled rows).
   */
  readonly commitWith = <T>(fn: () => T): T => {
    const applied = [...this.pending.keys()];
    // Inside someone else's open transaction there is no commit of ours to count on: keep them queued.
    const ours = !this.db.isTransaction;
    const out = inTransaction(this.db, () => {
      for (const id of applied) this.applyOne(id);
      return fn();
    });
    if (!ours) return out;
    for (const id of applied) this.pending.delete(id);
    if (this.pending.size === 0) this.cancelFlush();
    return out;
  };

  /** Writes waiting settlements now (also on shutdown). */
  flush(): void {
    if (this.pending.size > 0) inTransaction(this.db, () => this.applyPending());
    this.cancelFlush();
  }

  private cancelFlush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
  }

  private applyOne(id: string): void {
    const a = this.pending.get(id)!;
    this.update.run(a.tokens, a.micros, id);
  }

  private applyPending(): void {
    for (const id of this.pending.keys()) this.applyOne(id);
    this.pending.clear();
  }

  async usage(runId: string): Promise<RunUsage> {
    this.flush();
    const run = this.runTotals.get(runId) as { calls: number; tokens: number; micros: number };
    const rows = this.byRole.all(runId) as Array<{ role: Role; micros: number }>;
    return {
      calls: run.calls,
      tokens: run.tokens,
      costUsd: fromMicros(run.micros),
      byRole: Object.fromEntries(rows.map((r) => [r.role, fromMicros(r.micros)])),
    };
  }
}
