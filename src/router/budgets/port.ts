// The budget port: reserve a call's worst-case tokens and cost before it runs, settle the actual use after.
import type { Role } from "../policy.js";

/** The limits a reservation is checked against (from the policy's `limits`). */
export interface BudgetLimits {
  readonly maxCostPerRunUsd: number;
  /** Per run and role; undefined: only the run limit applies. */
  readonly maxCostPerRoleUsd?: number;
  readonly maxCallsPerRun: number;
}

export interface ReserveRequest {
  readonly runId: string;
  readonly role: Role;
  readonly tokens: number;
  readonly costUsd: number;
  readonly limits: BudgetLimits;
}

export type ReserveResult = { readonly ok: true; readonly id: string } | { readonly ok: false; readonly reason: string };

export interface RunUsage {
  readonly calls: number;
  readonly tokens: number;
  readonly costUsd: number;
  readonly byRole: Readonly<Partial<Record<Role, number>>>;
}

/**
 * Reservations count against the limits from the moment they are made, so calls running at the
 * same time can never together spend past a limit: the check and the reservation are one atomic step.
 */
export interface BudgetStore {
  reserve(req: ReserveRequest): Promise<ReserveResult>;
  /** Replaces the reservation's estimate with what the call actually used (0 for a call that never ran). */
  settle(id: string, actual: { tokens: number; costUsd: number }): Promise<void>;
  usage(runId: string): Promise<RunUsage>;
}

/** Money is kept as whole micro-dollars so sums are exact. */
export const toMicros = (usd: number): number => Math.ceil(usd * 1_000_000 - 1e-6);
export const fromMicros = (micros: number): number => micros / 1_000_000;

export const usd = (n: number): string => `$${n.toFixed(n < 0.01 && n > 0 ? 6 : 4)}`;
