// The run ledger port: append-only, hash-chained entries per run, and the run record projected from them.
import { monotonicFactory } from "ulid";
import { z } from "zod";
import { Sha256Hex } from "../artifacts/port.js";

// ---------------------------------------------------------------------------------------------
// Vocabulary
// ---------------------------------------------------------------------------------------------

export const RunType = z.enum(["spec_change", "impl_change", "conformance_update", "release_prep", "watcher_investigation"]);
export type RunType = z.infer<typeof RunType>;

export const RunStatus = z.enum(["queued", "running", "awaiting_human", "failed", "succeeded", "cancelled"]);
export type RunStatus = z.infer<typeof RunStatus>;

/** Statuses a run never leaves. */
export const terminalStatuses: readonly RunStatus[] = ["failed", "succeeded", "cancelled"];

export const RunId = z.string().regex(/^run_[0-9A-HJKMNP-TV-Z]{26}$/, { error: "must be run_<ULID>, e.g. run_01JF3Q0Z8X9K2M4N6P8R0T2V4W" });
export type RunId = z.infer<typeof RunId>;

const nextUlid = monotonicFactory();
/** A new run id: `run_<ulid>`, so ids sort by creation time (newest-first listing relies on it). */
export function newRunId(now: number = Date.now()): RunId {
  return `run_${nextUlid(now)}`;
}

export { Sha256Hex };

export { GENESIS_HASH } from "./chain.js";

// ---------------------------------------------------------------------------------------------
// Entry payloads, one schema per entry type. Loose objects: producers may add fields, which are
// hashed and kept, but the fields named here are checked at append.
// ---------------------------------------------------------------------------------------------

/** A forge pull/merge request, Jira issue or other thing a run is about; `subjectKey` indexes it. */
export const Subject = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("pull_request"), forge: z.enum(["github", "gitlab"]), repo: z.string().min(1), number: z.number().int().positive() }),
  z.object({ kind: z.literal("issue"), forge: z.enum(["github", "gitlab"]), repo: z.string().min(1), number: z.number().int().positive() }),
  z.object({ kind: z.literal("jira"), key: z.string().regex(/^[A-Z][A-Z0-9_]+-\d+$/, { error: "must be a Jira key like ABC-123" }) }),
]);
export type Subject = z.infer<typeof Subject>;

/** The string runs are indexed under: `github:acme/api#12` (PR), `gitlab:grp/proj!7` (MR), `jira:ABC-1`. */
export function subjectKey(s: Subject): string {
  switch (s.kind) {
    case "jira":
      return `jira:${s.key}`;
    case "pull_request":
      return `${s.forge}:${s.repo}${s.forge === "gitlab" ? "!" : "#"}${s.number}`;
    case "issue":
      return `${s.forge}:${s.repo}#issue/${s.number}`;
  }
}

export const RunSource = z.looseObject({
  /** The normalised event that started the run (delivery id or event id). */
  event_id: z.string().min(1),
  /** github | gitlab | jira | api | cli | schedule. */
  origin: z.string().min(1),
  subjects: z.array(Subject).default([]),
});
export type RunSource = z.infer<typeof RunSource>;

const RunCreated = z.looseObject({
  run_type: RunType,
  source: RunSource,
  /** The repository the run may touch, `owner/name` or a GitLab project path. */
  repo_scope: z.string().min(1),
  inputs: z.record(z.string(), z.unknown()).default({}),
  policy_version: z.string().min(1),
  title: z.string().optional(),
});

const StepRef = z.looseObject({ step: z.string().min(1), attempt: z.number().int().nonnegative().default(0) });

/** Prompts and completions never enter the ledger; hashes of them may. */
const forbiddenModelCallKeys = ["prompt", "prompts", "messages", "system", "completion", "response_text"];
const ModelCall = z
  .looseObject({
    provider: z.string().min(1),
    model: z.string().min(1),
    input_tokens: z.number().int().nonnegative(),
    output_tokens: z.number().int().nonnegative(),
    cost_usd: z.number().nonnegative(),
    step: z.string().optional(),
    role: z.string().optional(),
  })
  .superRefine((v, ctx) => {
    for (const k of forbiddenModelCallKeys)
      if (k in v) ctx.addIssue({ code: "custom", path: [k], message: `must not be recorded: the ledger keeps no prompt or completion text (store its sha256 instead)` });
  });

const ArtifactAdded = z.looseObject({
  sha256: Sha256Hex,
  name: z.string().min(1),
  size: z.number().int().nonnegative(),
  media_type: z.string().min(1),
  producer_step: z.string().optional(),
});

const GateResult = z.looseObject({
  gate: z.string().min(1),
  passed: z.boolean(),
  step: z.string().optional(),
  exit_code: z.number().int().optional(),
  /** sha256 of the gate's output artifact, if kept. */
  output_sha256: Sha256Hex.optional(),
});

const ApprovalRequested = z.looseObject({ checklist: z.array(z.string().min(1)).min(1), step: z.string().optional() });

const Decision = z.looseObject({
  decision: z.enum(["approved", "rejected", "changes_requested"]),
  by: z.string().min(1),
  /** review | slash_command | api. */
  via: z.string().min(1),
  item: z.string().optional(),
});

const StatusChanged = z.looseObject({ to: RunStatus, reason: z.string().optional() });

const EvidenceSigned = z.looseObject({
  manifest_sha256: Sha256Hex,
  merkle_root: Sha256Hex,
  bundle_sha256: Sha256Hex,
  key_id: z.string().min(1),
});

/** Every entry type and the schema its payload must satisfy. */
export const entryPayloads = {
  run_created: RunCreated,
  step_started: StepRef,
  step_finished: StepRef,
  step_failed: StepRef.extend({ error: z.string().min(1) }),
  model_call: ModelCall,
  tool_call: z.looseObject({ tool: z.string().min(1), step: z.string().optional() }),
  artifact_added: ArtifactAdded,
  gate_result: GateResult,
  approval_requested: ApprovalRequested,
  decision: Decision,
  status_changed: StatusChanged,
  published: z.looseObject({ forge: z.string().min(1), url: z.string().min(1) }),
  evidence_signed: EvidenceSigned,
  note: z.looseObject({ message: z.string().min(1) }),
} as const;

export const EntryType = z.enum(Object.keys(entryPayloads) as [keyof typeof entryPayloads, ...(keyof typeof entryPayloads)[]]);
export type EntryType = z.infer<typeof EntryType>;
export type EntryPayload<T extends EntryType> = z.output<(typeof entryPayloads)[T]>;

// ---------------------------------------------------------------------------------------------
// Entries
// ---------------------------------------------------------------------------------------------

/**
 * A stored entry. `hash` = sha256 of the RFC 8785 canonical JSON of every other field; the
 * adapter stores exactly those canonical bytes, so verification re-hashes bytes, never objects.
 */
export const Entry = z.object({
  run_id: RunId,
  seq: z.number().int().nonnegative(),
  type: EntryType,
  /** ISO 8601 UTC time the entry was appended. */
  at: z.iso.datetime(),
  payload: z.record(z.string(), z.unknown()),
  prev_hash: Sha256Hex,
  hash: Sha256Hex,
});
export type Entry = z.infer<typeof Entry>;

/** What a caller appends; the ledger adds run_id, seq, at (unless given), prev_hash and hash. */
export interface NewEntry<T extends EntryType = EntryType> {
  readonly type: T;
  readonly payload: z.input<(typeof entryPayloads)[T]>;
  /** Defaults to the ledger's clock. */
  readonly at?: string;
}

/** One conditional append: `entries` get seq expectedSeq, expectedSeq+1, … or nothing is written. */
export interface AppendRequest {
  readonly runId: RunId;
  /** The seq the first entry must get: the run's current entry count (0 creates the run; its first entry must be run_created). */
  readonly expectedSeq: number;
  readonly entries: readonly NewEntry[];
}

export interface AppendResult {
  readonly runId: RunId;
  readonly entries: readonly Entry[];
  /** seq and hash of the run's last entry after this append. */
  readonly head: { readonly seq: number; readonly hash: string };
}

// ---------------------------------------------------------------------------------------------
// The run record: a projection of the entries
// ---------------------------------------------------------------------------------------------

export const RunRecord = z.object({
  run_id: RunId,
  run_type: RunType,
  status: RunStatus,
  source: RunSource,
  subjects: z.array(z.string()),
  repo_scope: z.string(),
  title: z.string().optional(),
  inputs: z.record(z.string(), z.unknown()),
  policy_version: z.string(),
  model_calls: z.array(ModelCall.and(z.object({ seq: z.number().int(), at: z.string() }))),
  artifacts: z.array(ArtifactAdded.and(z.object({ seq: z.number().int() }))),
  gate_results: z.array(GateResult.and(z.object({ seq: z.number().int(), at: z.string() }))),
  approvals: z.array(Decision.and(z.object({ seq: z.number().int(), at: z.string() }))),
  totals: z.object({ input_tokens: z.number(), output_tokens: z.number(), cost_usd: z.number() }),
  created_at: z.string(),
  updated_at: z.string(),
  /** The last entry: a signed evidence bundle records it, which is how truncation is caught offline. */
  head: z.object({ seq: z.number().int(), hash: Sha256Hex }),
});
export type RunRecord = z.infer<typeof RunRecord>;

/** The queryable part of a run record, kept per run by every adapter (cached projection). */
export type RunSummary = Pick<
  RunRecord,
  "run_id" | "run_type" | "status" | "subjects" | "repo_scope" | "title" | "created_at" | "updated_at" | "head"
>;

export interface RunQuery {
  readonly repo?: string;
  readonly status?: RunStatus;
  /** A `subjectKey` string such as `github:acme/api#12` or `jira:ABC-1`. */
  readonly subject?: string;
  /** 1..200, default 50. */
  readonly limit?: number;
  /** `next` of the previous page. */
  readonly cursor?: string;
}

export interface RunPage {
  /** Newest first. */
  readonly runs: readonly RunSummary[];
  /** Pass as `cursor` for the next page; absent on the last page. */
  readonly next?: string;
}

// ---------------------------------------------------------------------------------------------
// Verification
// ---------------------------------------------------------------------------------------------

export const VerifyProblemKind = z.enum([
  "edited", // stored bytes do not hash to the stored hash
  "deleted", // a seq is missing
  "reordered", // an entry's bytes name another seq or run
  "chain_broken", // prev_hash does not equal the previous entry's hash
  "truncated", // the run's head names a later entry than the last one stored
  "head_missing", // entries exist but the run's head does not
  "head_mismatch", // head hash differs from the last entry's hash
  "unreadable", // the stored bytes are not an entry
]);
export type VerifyProblemKind = z.infer<typeof VerifyProblemKind>;

export interface VerifyProblem {
  readonly runId: string;
  readonly seq: number;
  readonly kind: VerifyProblemKind;
  readonly message: string;
}

export type VerifyReport =
  | { readonly ok: true; readonly runs: number; readonly entries: number }
  | { readonly ok: false; readonly runs: number; readonly entries: number; readonly problem: VerifyProblem };

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/** Another writer got there first: the run's next seq is not the one the caller expected. Re-read and retry. */
export class LedgerConflictError extends Error {
  constructor(
    readonly runId: string,
    readonly expectedSeq: number,
    /** The run's actual next seq when known. */
    readonly actualNextSeq: number | undefined,
  ) {
    super(
      `ledger conflict on ${runId}: expected to append seq ${expectedSeq}` +
        (actualNextSeq === undefined ? " but it is taken" : ` but the next seq is ${actualNextSeq}`) +
        "; re-read the run and retry",
    );
    this.name = "LedgerConflictError";
  }
}

/** The entries asked for do not fit the run (unknown run, bad payload, run_created not first). */
export class LedgerInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LedgerInputError";
  }
}

// ---------------------------------------------------------------------------------------------
// The port
// ---------------------------------------------------------------------------------------------

export interface Ledger {
  /** Appends each request conditionally on its expectedSeq; throws LedgerConflictError if a seq is taken (SQLite: all requests in one commit; DynamoDB: each run's entries in seq order, stopping at the first conflict). */
  append(requests: readonly AppendRequest[]): Promise<AppendResult[]>;
  /** A run's entries in seq order from `fromSeq` (default 0); empty for an unknown run. */
  entries(runId: string, fromSeq?: number): Promise<Entry[]>;
  /** The run record projected from its entries, or undefined for an unknown run. */
  run(runId: string): Promise<RunRecord | undefined>;
  /** Run summaries newest first, filtered by repo, status and/or subject, paginated by cursor. */
  listRuns(query?: RunQuery): Promise<RunPage>;
  /** Re-hashes stored bytes and walks every chain (or one run's), on `workers` threads where the adapter can; reports the first problem. */
  verify(opts?: { runId?: string; workers?: number }): Promise<VerifyReport>;
  /** Throws with a reason when the backend cannot be reached (for /readyz). */
  ready(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Implemented by the SQLite ledger: the same append, synchronous, for use inside
 * `inTransaction(db, …)` on the shared connection, so a caller's own writes and its ledger
 * entries commit (or roll back) together.
 */
export interface TransactionalLedger extends Ledger {
  appendInTransaction(requests: readonly AppendRequest[]): AppendResult[];
}
