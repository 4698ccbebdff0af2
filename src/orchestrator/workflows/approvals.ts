// Which checklist items of a run's open approval are approved so far, from its ledger entries; shared by both engines.
import { terminalStatuses, type Entry, type RunStatus } from "../ledger/port.js";

/** The checklist when the approval activity names none (DESIGN: Spec / Plan / Risk / Release). */
export const DEFAULT_CHECKLIST: readonly string[] = ["spec", "plan", "risk", "release"];

/** The checklist an approval activity's output names (a non-empty list of item names), or the default one. */
export function approvalChecklist(output: { readonly checklist?: unknown }): string[] {
  const c = output.checklist;
  return Array.isArray(c) && c.length > 0 && c.every((x) => typeof x === "string" && x !== "") ? [...(c as string[])] : [...DEFAULT_CHECKLIST];
}

export interface ApprovalProgress {
  /** The approval step and attempt the latest `approval_requested` entry is for. */
  readonly step: string;
  readonly attempt: number;
  readonly checklist: readonly string[];
  /** Checklist items approved since that request, in checklist order. */
  readonly approved: readonly string[];
  readonly remaining: readonly string[];
  /** Step Functions' callback token, when the request carries one. */
  readonly taskToken: string | undefined;
  /** False once the step has finished or failed, or the run has ended. */
  readonly open: boolean;
  /**
   * The decision that settled the approval, if one has: the first rejection, or the approval
   * that completed the checklist. While `open`, its outcome has not reached the step yet.
   */
  readonly settled: { readonly approved: boolean; readonly decision: Entry } | undefined;
}

/**
 * The state of the latest approval request. An approval naming an item approves that item; one
 * naming none (a forge review approval) approves every remaining item. Only entries after the
 * latest `approval_requested` count, so a retried approval step starts from an empty checklist.
 */
export function approvalProgress(entries: readonly Entry[]): ApprovalProgress | undefined {
  let at = -1;
  for (let i = entries.length - 1; i >= 0; i--)
    if (entries[i]!.type === "approval_requested") {
      at = i;
      break;
    }
  if (at < 0) return undefined;
  const asked = entries[at]!.payload as { step?: unknown; attempt?: unknown; checklist?: unknown; task_token?: unknown };
  const step = typeof asked.step === "string" ? asked.step : "";
  const checklist = approvalChecklist(asked);
  const approved = new Set<string>();
  let open = true;
  let settled: ApprovalProgress["settled"];
  for (const e of entries.slice(at + 1)) {
    const p = e.payload as { decision?: unknown; item?: unknown; step?: unknown; to?: unknown };
    if (e.type === "decision" && p.decision === "approved") {
      if (typeof p.item === "string") approved.add(p.item);
      else for (const c of checklist) approved.add(c);
      if (!settled && checklist.every((c) => approved.has(c))) settled = { approved: true, decision: e };
    } else if (e.type === "decision" && p.decision === "rejected") settled ??= { approved: false, decision: e };
    else if ((e.type === "step_finished" || e.type === "step_failed") && p.step === step) open = false;
    else if (e.type === "status_changed" && terminalStatuses.includes(p.to as RunStatus)) open = false;
  }
  return {
    step,
    attempt: typeof asked.attempt === "number" ? asked.attempt : 1,
    checklist,
    approved: checklist.filter((c) => approved.has(c)),
    remaining: checklist.filter((c) => !approved.has(c)),
    taskToken: typeof asked.task_token === "string" ? asked.task_token : undefined,
    open,
    settled,
  };
}

export type DecisionEffect =
  /** Every item is approved: the approval step succeeds and the run resumes. */
  | { readonly effect: "resume" }
  /** Recorded; the run keeps waiting for the items still open (or for a decision after changes were requested). */
  | { readonly effect: "wait"; readonly remaining: readonly string[] }
  /** Rejected: the approval step fails with Approval.Rejected. */
  | { readonly effect: "fail" };

/** What a decision does to the approval in `progress`; an item that is not on the checklist is refused with the reason. */
export function decisionEffect(
  progress: ApprovalProgress,
  decision: { readonly decision: "approved" | "rejected" | "changes_requested"; readonly item?: string },
): DecisionEffect | { readonly effect: "invalid"; readonly reason: string } {
  if (decision.item !== undefined && !progress.checklist.includes(decision.item))
    return { effect: "invalid", reason: `"${decision.item}" is not on its approval checklist (${progress.checklist.join(", ")})` };
  if (decision.decision === "rejected") return { effect: "fail" };
  if (decision.decision === "changes_requested") return { effect: "wait", remaining: progress.remaining };
  const remaining = decision.item === undefined ? [] : progress.remaining.filter((c) => c !== decision.item);
  return remaining.length === 0 ? { effect: "resume" } : { effect: "wait", remaining };
}
