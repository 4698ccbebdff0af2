// The run ledger port: append-only, hash-chained entries per run, and the run record projected from them.
import { monotonicFactory } from "ulid";
import * as z from "./zod-mini.js";

// ---------------------------------------------------------------------------------------------
// Vocabulary
// ---------------------------------------------------------------------------------------------

export const RunType = z.enum(["spec_change", "impl_change", "conformance_update", "release_prep", "watcher_investigation"]);
export type RunType = z.infer<typeof RunType>;

export const RunStatus = z.enum(["queued", "running", "awaiting_human", "failed", "succeeded", "cancelled"]);
export type RunStatus = z.infer<typeof RunStatus>;

/** Statuses a run never leaves. */
export const terminalStatuses: readonly RunStatus[] = ["failed", "succeeded", "cancelled"];

export const RunId = z.string().check(z.regex(/^run_[0-9A-HJKMNP-TV-Z]{26}$/, { error: "must be run_<ULID>, e.g. run_01JF3Q0Z8X9K2M4N6P8R0T2V4W" }));
export type RunId = z.infer<typeof RunId>;

const nextUlid = monotonicFactory();
/** A new run id: `run_<ulid>`, so ids sort by creation time (newest-first listing relies on it). */
export function newRunId(now: number = Date.now()): RunId {
  return `run_${nextUlid(now)}`;
}

/** A sha256 in lowercase hex; written with zod/mini (see ./zod-mini.ts), and used by zod classic schemas too. */
export const Sha256Hex = z.string().check(z.regex(/^[0-9a-f]{64}$/, { error: "must be 64 lowercase hex digits (a sha256)" }));

export { GENESIS_HASH } from "./chain.js";

// ---------------------------------------------------------------------------------------------
// Entry payloads, one schema per entry type. Loose objects: producers may add fields, which are
// hashed and kept, but the fields named here are checked at append.
// ---------------------------------------------------------------------------------------------

const nonEmpty = () => z.string().check(z.minLength(1));
const count = () => z.int().check(z.nonnegative());

/** A GitHub pull request or GitLab merge request (`number` is the MR iid). */
const PullRequestSubject = z.object({ kind: z.literal("pull_request"), forge: z.enum(["github", "gitlab"]), repo: nonEmpty(), number: z.int().check(z.positive()) });

/** A forge pull/merge request, Jira issue or other thing a run is about; `subjectKey` indexes it. */
export const Subject = z.discriminatedUnion("kind", [
  PullRequestSubject,
  z.object({ kind: z.literal("issue"), forge: z.enum(["github", "gitlab"]), repo: nonEmpty(), number: z.int().check(z.positive()) }),
  z.object({ kind: z.literal("jira"), key: z.string().check(z.regex(/^[A-Z][A-Z0-9_]+-\d+$/, { error: "must be a Jira key like ABC-123" })) }),
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
  event_id: nonEmpty(),
  /** github | gitlab | jira | api | cli | schedule. */
  origin: nonEmpty(),
  subjects: z._default(z.array(Subject), []),
});
export type RunSource = z.infer<typeof RunSource>;

function buildEntryPayloads() {
  const RunCreated = z.looseObject({
    run_type: RunType,
    source: RunSource,
    /** The repository the run may touch, `owner/name` or a GitLab project path. */
    repo_scope: nonEmpty(),
    inputs: z._default(z.record(z.string(), z.unknown()), {}),
    policy_version: nonEmpty(),
    title: z.optional(z.string()),
  });

  const StepRef = z.looseObject({ step: nonEmpty(), attempt: z._default(count(), 0) });

  /** Prompts and completions never enter the ledger; hashes of them may. */
  const forbiddenModelCallKeys = ["prompt", "prompts", "messages", "system", "completion", "response_text"];
  const ModelCall = z
    .looseObject({
      provider: nonEmpty(),
      model: nonEmpty(),
      input_tokens: count(),
      output_tokens: count(),
      cost_usd: z.number().check(z.nonnegative()),
      step: z.optional(z.string()),
      role: z.optional(z.string()),
    })
    .check(
      z.superRefine((v, ctx) => {
        for (const k of forbiddenModelCallKeys)
          if (k in v) ctx.addIssue({ code: "custom", path: [k], message: `must not be recorded: the ledger keeps no prompt or completion text (store its sha256 instead)` });
      }),
    );

  const ArtifactAdded = z.looseObject({
    sha256: Sha256Hex,
    name: nonEmpty(),
    size: count(),
    media_type: nonEmpty(),
    producer_step: z.optional(z.string()),
  });

  const GateResult = z.looseObject({
    gate: nonEmpty(),
    passed: z.boolean(),
    step: z.optional(z.string()),
    exit_code: z.optional(z.int()),
    /** sha256 of the gate's output artifact, if kept. */
    output_sha256: z.optional(Sha256Hex),
  });

  const ApprovalRequested = z.looseObject({ checklist: z.array(nonEmpty()).check(z.minLength(1)), step: z.optional(z.string()) });

  const Decision = z.looseObject({
    decision: z.enum(["approved", "rejected", "changes_requested"]),
    by: nonEmpty(),
    /** review | slash_command | api. */
    via: nonEmpty(),
    item: z.optional(z.string()),
  });

  const StatusChanged = z.looseObject({ to: RunStatus, reason: z.optional(z.string()) });

  const EvidenceSigned = z.looseObject({
    manifest_sha256: Sha256Hex,
    merkle_root: Sha256Hex,
    bundle_sha256: Sha256Hex,
    key_id: nonEmpty(),
  });

  /**
   * The PR/MR a run opened. With `subject`, the run becomes findable from that PR/MR as well as
   * from what started it: reviews and slash commands there decide the run. Entries written
   * before `subject` existed carry only forge and url, and add no subject.
   */
  const Published = z
    .looseObject({ forge: nonEmpty(), url: nonEmpty(), subject: z.optional(PullRequestSubject) })
    .check(
      z.superRefine((v, ctx) => {
        if (v.subject && v.subject.forge !== v.forge)
          ctx.addIssue({ code: "custom", path: ["subject", "forge"], message: `must be the forge the run published to (${v.forge}), got ${v.subject.forge}` });
      }),
    );

  return {
    run_created: RunCreated,
    step_started: StepRef,
    step_finished: StepRef,
    step_failed: z.extend(StepRef, { error: nonEmpty() }),
    model_call: ModelCall,
    tool_call: z.looseObject({ tool: nonEmpty(), step: z.optional(z.string()) }),
    artifact_added: ArtifactAdded,
    gate_result: GateResult,
    approval_requested: ApprovalRequested,
    decision: Decision,
    status_changed: StatusChanged,
    published: Published,
    evidence_signed: EvidenceSigned,
    note: z.looseObject({ message: nonEmpty() }),
  } as const;
}
type EntryPayloads = ReturnType<typeof buildEntryPayloads>;

let payloads: EntryPayloads | undefined;
/**
 * Every entry type and the schema its payload must satisfy. Built on first use: a process that
 * only reads the ledger, or an engine whose runs are all parked, never constructs them.
 */
export function entryPayloads(): EntryPayloads {
  return (payloads ??= buildEntryPayloads());
}

export type EntryType = keyof EntryPayloads;
export type EntryPayload<T extends EntryType> = z.output<EntryPayloads[T]>;

// ---------------------------------------------------------------------------------------------
// Entries
// ---------------------------------------------------------------------------------------------

/*
 * Schemas that only give types (stored entries and run records are written by the ledger itself
 * and never parsed back) are built on demand, by the functions below: the types come from zod,
 * and a process that loads the ledger does not construct schemas it never runs.
 */

/**
 * A stored entry. `hash` = sha256 of the RFC 8785 canonical JSON of every other field; the
 * adapter stores exactly those canonical bytes, so verification re-hashes bytes, never objects.
 */
export const entrySchema = () =>
  z.object({
    run_id: RunId,
    seq: count(),
    type: z.enum(Object.keys(entryPayloads()) as [EntryType, ...EntryType[]]),
    /** ISO 8601 UTC time the entry was appended. */
    at: z.iso.datetime(),
    payload: z.record(z.string(), z.unknown()),
    prev_hash: Sha256Hex,
    hash: Sha256Hex,
  });
export type Entry = z.infer<ReturnType<typeof entrySchema>>;

/** What a caller appends; the ledger adds run_id, seq, at (unless given), prev_hash and hash. */
export interface NewEntry<T extends EntryType = EntryType> {
  readonly type: T;
  readonly payload: z.input<EntryPayloads[T]>;
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

export const runRecordSchema = () => {
  const p = entryPayloads();
  return z.object({
    run_id: RunId,
    run_type: RunType,
    status: RunStatus,
    source: RunSource,
    subjects: z.array(z.string()),
    repo_scope: z.string(),
    title: z.optional(z.string()),
    inputs: z.record(z.string(), z.unknown()),
    policy_version: z.string(),
    model_calls: z.array(z.intersection(p.model_call, z.object({ seq: z.int(), at: z.string() }))),
    artifacts: z.array(z.intersection(p.artifact_added, z.object({ seq: z.int() }))),
    gate_results: z.array(z.intersection(p.gate_result, z.object({ seq: z.int(), at: z.string() }))),
    approvals: z.array(z.intersection(p.decision, z.object({ seq: z.int(), at: z.string() }))),
    totals: z.object({ input_tokens: z.number(), output_tokens: z.number(), cost_usd: z.number() }),
    created_at: z.string(),
    updated_at: z.string(),
    /** The last entry: a signed evidence bundle records it, which is how truncation is caught offline. */
    head: z.object({ seq: z.int(), hash: Sha256Hex }),
  });
};
export type RunRecord = z.infer<ReturnType<typeof runRecordSchema>>;

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

export const verifyProblemKinds = () =>
  z.enum([
    "edited", // stored bytes do not hash to the stored hash
    "deleted", // a seq is missing
    "reordered", // an entry's bytes name another seq or run
    "chain_broken", // prev_hash does not equal the previous entry's hash
    "truncated", // the run's head names a later entry than the last one stored
    "head_missing", // entries exist but the run's head does not
    "head_mismatch", // head hash differs from the last entry's hash
    "unreadable", // the stored bytes are not an entry
  ]);
export type VerifyProblemKind = z.infer<ReturnType<typeof verifyProblemKinds>>;

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
