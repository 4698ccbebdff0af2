// What a trigger asks for: one run of a given type on a repo subject, idempotent by key. The workflow engine consumes it.
import { z } from "zod";
import { EventRepo, EventSource, EventSubject } from "../events/schema.js";

export const runTypes = ["spec_change", "impl_change", "conformance_update", "release_prep", "watcher_investigation"] as const;
export const RunType = z.enum(runTypes);
export type RunType = z.infer<typeof RunType>;

export const RunRequest = z.object({
  run_type: RunType,
  repo: EventRepo,
  subject: EventSubject,
  requested_by: z.object({ source: EventSource, login: z.string(), id: z.string().nullable() }),
  /** Same trigger → same key → at most one run. */
  idempotency_key: z.string().min(1),
  event_id: z.string(),
  /** What started it, for people reading the run: `label:orchestrator:impl`, `jira:Ready for Agent`, `command:build`, `spec_paths`. */
  trigger: z.string(),
  /** A slash command may ask to stop after a stage (`/orchestrator plan`); null runs the whole workflow. */
  stop_after: z.enum(["plan", "build", "verify"]).nullable(),
  /** The Jira issue a tracker-started run reports back to. */
  jira_issue: z.string().nullable(),
});
export type RunRequest = z.infer<typeof RunRequest>;

export interface StoredRunRequest {
  readonly id: string;
  readonly request: RunRequest;
  readonly created_at: string;
}

/** Where triggers hand run requests; the same idempotency key never creates a second one. */
export interface RunRequestSink {
  submit(request: RunRequest): Promise<{ status: "created" | "existing"; id: string }>;
}

/** Reading run requests back: for `/orchestrator status` and for the engine that starts runs. */
export interface RunRequestLog {
  forSubject(repoFullPath: string, subjectRef: string): StoredRunRequest[];
  all(): StoredRunRequest[];
}

/** `#12` for issues/PRs/MRs, the Jira key, or the ref for pushes: one subject reference across forges. */
export function subjectRef(s: EventSubject): string {
  if (s.number != null) return `#${s.number}`;
  if (s.key) return s.key;
  return s.head_ref ?? s.head_sha ?? "?";
}
