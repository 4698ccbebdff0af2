// The run record as a projection of a run's entries: the summary kept per run for queries, and the full record.
import { LedgerInputError, RunSource, subjectKey, type Entry, type EntryPayload, type RunRecord, type RunStatus, type RunSummary } from "./port.js";

/** The summary of a run whose first entry is `created`. */
export function summaryFromCreated(created: Entry): RunSummary {
  if (created.type !== "run_created" || created.seq !== 0)
    throw new LedgerInputError(`${created.run_id}: a run's first entry (seq 0) must be run_created, got ${created.type} at seq ${created.seq}`);
  const p = created.payload as EntryPayload<"run_created">;
  const source = RunSource.parse(p.source);
  return {
    run_id: created.run_id,
    run_type: p.run_type,
    status: "queued",
    subjects: source.subjects.map(subjectKey),
    repo_scope: p.repo_scope,
    ...(p.title === undefined ? {} : { title: p.title }),
    created_at: created.at,
    updated_at: created.at,
    head: { seq: 0, hash: created.hash },
  };
}

/** A run's status after one more (non-first) entry. */
export function statusAfter(status: RunStatus, e: Entry): RunStatus {
  if (e.type === "run_created") throw new LedgerInputError(`${e.run_id} seq ${e.seq}: run_created may only be the first entry`);
  return e.type === "status_changed" ? (e.payload as EntryPayload<"status_changed">).to : status;
}

/** What a run is about: the keys it is listed under, and the repo any subject it adds must be in. */
export type RunSubjects = Pick<RunSummary, "run_id" | "repo_scope" | "subjects">;

/**
 * A run's subject keys after one more (non-first) entry: a `published` entry naming the PR/MR
 * the run opened adds it, so the run is found from there too. The same array when nothing is
 * added. A PR/MR outside the run's repo is refused: a review there would decide this run under
 * another repo's approvers.
 */
export function subjectsAfter(run: RunSubjects, e: Entry): string[] {
  if (e.type !== "published") return run.subjects;
  const subject = (e.payload as EntryPayload<"published">).subject;
  if (!subject) return run.subjects;
  if (subject.repo !== run.repo_scope)
    throw new LedgerInputError(`${run.run_id} seq ${e.seq} (published): payload.subject.repo must be the run's repo ${run.repo_scope}, got ${subject.repo}`);
  const key = subjectKey(subject);
  return run.subjects.includes(key) ? run.subjects : [...run.subjects, key];
}

/** A run's status as its entries say: the latest status_changed, or queued before any. */
export function currentStatus(entries: readonly Entry[]): RunStatus {
  return (entries.findLast((e) => e.type === "status_changed")?.payload.to as RunStatus | undefined) ?? "queued";
}

/** The summary after one more entry: status, subjects (a published PR/MR), updated_at and head move. */
export function advanceSummary(s: RunSummary, e: Entry): RunSummary {
  return { ...s, status: statusAfter(s.status, e), subjects: subjectsAfter(s, e), updated_at: e.at, head: { seq: e.seq, hash: e.hash } };
}

/** The full run record, folded from all of a run's entries in seq order. */
export function projectRun(entries: readonly Entry[]): RunRecord {
  const [first, ...rest] = entries;
  if (!first) throw new LedgerInputError("cannot project a run without entries");
  const created = first.payload as EntryPayload<"run_created">;
  let summary = summaryFromCreated(first);
  const record: RunRecord = {
    ...summary,
    source: RunSource.parse(created.source),
    inputs: created.inputs ?? {},
    policy_version: created.policy_version,
    model_calls: [],
    artifacts: [],
    gate_results: [],
    approvals: [],
    totals: { input_tokens: 0, output_tokens: 0, cost_usd: 0 },
  };
  for (const e of rest) {
    summary = advanceSummary(summary, e);
    switch (e.type) {
      case "model_call": {
        const p = e.payload as EntryPayload<"model_call">;
        record.model_calls.push({ ...p, seq: e.seq, at: e.at });
        record.totals.input_tokens += p.input_tokens;
        record.totals.output_tokens += p.output_tokens;
        record.totals.cost_usd += p.cost_usd;
        break;
      }
      case "artifact_added":
        record.artifacts.push({ ...(e.payload as EntryPayload<"artifact_added">), seq: e.seq });
        break;
      case "gate_result":
        record.gate_results.push({ ...(e.payload as EntryPayload<"gate_result">), seq: e.seq, at: e.at });
        break;
      case "decision":
        record.approvals.push({ ...(e.payload as EntryPayload<"decision">), seq: e.seq, at: e.at });
        break;
      default:
        break;
    }
  }
  return { ...record, status: summary.status, subjects: summary.subjects, updated_at: summary.updated_at, head: summary.head };
}
