// A run's starting state and its walk through a definition (next step, stop_after), shared by both engines.
import type { JsonObject, RunState } from "../activities/port.js";
import type { NewEntry, Subject } from "../ledger/port.js";
import type { RunRequest } from "../run-request.js";
import { definitionRef } from "./catalog.js";
import type { FailureStep, StepDefinition, WorkflowDefinition } from "./schema.js";

export function initialState(runId: string, request: RunRequest, def: WorkflowDefinition): RunState {
  return {
    run: {
      run_id: runId,
      run_type: request.run_type,
      repo: request.repo.full_path,
      forge: request.repo.forge,
      subject: request.subject as unknown as JsonObject,
      requested_by: request.requested_by as unknown as JsonObject,
      trigger: request.trigger,
      stop_after: request.stop_after,
      jira_issue: request.jira_issue,
      workflow: { ...definitionRef(def) },
    },
    steps: {},
  };
}

/**
 * The ledger's view of what a run is about (its `listRuns({subject})` keys). Takes the parts of a
 * request an event also has, so slash commands find the runs of the PR/issue they are typed on.
 */
export function ledgerSubjects(request: Pick<RunRequest, "repo" | "subject" | "jira_issue">): Subject[] {
  const s = request.subject;
  const out: Subject[] = [];
  const forge = request.repo.forge;
  if (s.number != null && s.number > 0) {
    if (s.type === "pull_request" || s.type === "merge_request") out.push({ kind: "pull_request", forge, repo: request.repo.full_path, number: s.number });
    else if (s.type === "issue") out.push({ kind: "issue", forge, repo: request.repo.full_path, number: s.number });
  }
  const jira = request.jira_issue ?? (s.type === "jira_issue" ? s.key : null);
  if (jira && /^[A-Z][A-Z0-9_]+-\d+$/.test(jira)) out.push({ kind: "jira", key: jira });
  return out;
}

/** The run's first ledger entry, recording the request and the definition (name, version, digest) it runs. */
export function runCreatedEntry(request: RunRequest, def: WorkflowDefinition, policyVersion: string): NewEntry<"run_created"> {
  return {
    type: "run_created",
    payload: {
      run_type: request.run_type,
      source: { event_id: request.event_id, origin: request.requested_by.source, subjects: ledgerSubjects(request) },
      repo_scope: request.repo.full_path,
      inputs: {
        idempotency_key: request.idempotency_key,
        trigger: request.trigger,
        stop_after: request.stop_after,
        jira_issue: request.jira_issue,
        requested_by: request.requested_by,
        subject: request.subject,
      },
      policy_version: policyVersion,
      ...(request.subject.title ? { title: request.subject.title } : {}),
      workflow: definitionRef(def),
    },
  };
}

/** Why a run ends failed once its failure step finished: the caught error, when there is one. */
export function failureReason(state: RunState): string {
  const e = state.error;
  return e ? `${e.Error}: ${e.Cause}` : "a step failed";
}

/** A step of the definition by id, the failure step included. */
export function stepById(def: WorkflowDefinition, id: string): StepDefinition | FailureStep | undefined {
  return def.steps.find((s) => s.id === id) ?? (def.on_failure.id === id ? def.on_failure : undefined);
}

export function isFailureStep(def: WorkflowDefinition, id: string): boolean {
  return def.on_failure.id === id;
}

/** Stages a run may be asked to stop after (`/orchestrator plan`). */
export const stoppableActivities = new Set(["plan", "build", "verify"]);

/**
 * The step after `id` when it succeeded, or null when the run is done. A run asked to stop
 * after this step's stage skips to the final report step (if the workflow ends with one).
 */
export function nextStepId(def: WorkflowDefinition, id: string, stopAfter: string | null): string | null {
  const i = def.steps.findIndex((s) => s.id === id);
  if (i < 0) return null; // the failure step is always last
  const step = def.steps[i]!;
  if (stopAfter && step.activity === stopAfter && stoppableActivities.has(stopAfter)) return stopTarget(def, i);
  return def.steps[i + 1]?.id ?? null;
}

/** Where a run stopped after step `i` goes: the closing report step if it comes later, else the end. */
export function stopTarget(def: WorkflowDefinition, i: number): string | null {
  const last = def.steps.at(-1)!;
  return last.activity === "report" && def.steps.indexOf(last) > i ? last.id : null;
}
