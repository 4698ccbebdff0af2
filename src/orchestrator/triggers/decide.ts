// Triggers: decides what an event asks for (a run request, a reply, a run command) or why it is ignored. Pure.
import path from "node:path";
import type { Event, EventKind, EventRepo } from "../../events/schema.js";
import { writeLevels } from "../forge-ports.js";
import type { RepoConfig } from "../repo-config/schema.js";
import { subjectRef, type RunRequest, type RunType } from "../run-request.js";
import { forkGatedCommands, type CommandLine, type SlashCommand } from "./command.js";

export interface TriggerInput {
  readonly event: Event;
  /** The repo the run would act on: the event's, or the one a Jira project maps to. */
  readonly repo: EventRepo;
  readonly config: RepoConfig;
  /** Jira status → run type from settings, before the repo config's own entries. */
  readonly jiraTransitions: Readonly<Record<string, RunType>>;
  /** Slash commands read from the event text (comments only). */
  readonly commands: readonly CommandLine[];
  /** Paths the PR/MR changes, when spec paths are configured and the event is a PR update. */
  readonly changedFiles: readonly string[] | null;
}

export type RunControlCommand = Extract<SlashCommand, { name: "approve" | "reject" | "cancel" | "retry" }>;

/** A PR/MR review that decides a run's approval: GitHub's approve / request changes, GitLab's MR approval. */
export interface ReviewDecision {
  readonly state: "approved" | "changes_requested";
  /** The review's text (UNTRUSTED): recorded as the reason of a change request. */
  readonly body: string | null;
}

/** The review states that decide something; GitHub's "commented" and "dismissed" reviews do not. */
export function reviewDecision(event: Event): ReviewDecision | null {
  if (event.kind !== "review_submitted") return null;
  const state = event.review_state;
  return state === "approved" || state === "changes_requested" ? { state, body: event.text } : null;
}

export type Decision =
  /** `access: "write"` means the actor's permission must be checked before the request is submitted. */
  | { readonly type: "run"; readonly request: RunRequest; readonly access: "none" | "write" }
  | { readonly type: "reply"; readonly reason: string; readonly body: string }
  | { readonly type: "status" }
  | { readonly type: "control"; readonly command: RunControlCommand }
  /** Needs write access like a command, but a review without it is ignored silently (no reply on the PR). */
  | { readonly type: "review"; readonly review: ReviewDecision }
  | { readonly type: "ignored"; readonly reason: string };

/** Kinds that can start something; every other kind is ignored without reading the repo config. */
export const triggeringKinds: ReadonlySet<EventKind> = new Set([
  "issue_opened",
  "issue_reopened",
  "issue_labeled",
  "pr_opened",
  "pr_reopened",
  "pr_ready_for_review",
  "pr_labeled",
  "pr_synchronized",
  "comment_created",
  "review_submitted",
  "status_transitioned",
]);

const prUpdates: ReadonlySet<EventKind> = new Set(["pr_opened", "pr_reopened", "pr_ready_for_review", "pr_synchronized"]);

export function needsChangedFiles(event: Event, config: RepoConfig): boolean {
  return prUpdates.has(event.kind) && config.triggers.spec_paths.length > 0 && event.subject.number !== null && event.repo !== null;
}

/**
 * Whether the PR/MR an event is about must be read from the forge before deciding: the event does
 * not say where the PR comes from (GitHub's issue_comment on a PR carries no head; a GitLab hook
 * may leave the project ids out), and a fork's code must not run unless the repo config allows it.
 * Only when it can matter: runs on forks are off, and the event could start one (for a comment, a
 * command that runs the PR's code, with slash commands on).
 */
export function needsPullRequestHead(event: Event, config: RepoConfig, commands: readonly CommandLine[]): boolean {
  if (!isPullRequest(event.subject) || event.subject.is_fork !== null || event.subject.number === null || config.forks.allow_runs) return false;
  if (event.kind === "comment_created") return config.triggers.commands && commands.some((c) => c.type === "command" && forkGatedCommands.has(c.command.name));
  return triggeringKinds.has(event.kind) && event.kind !== "review_submitted" && event.kind !== "status_transitioned";
}

/**
 * Runs on forks are off and this PR/MR is a fork's, or nobody could tell: unknown origin is not
 * "not a fork". Someone known to lack write access is told that instead (by the permission check
 * the decision goes through), not about forks.
 */
function forkBarred(input: TriggerInput): boolean {
  const s = input.event.subject;
  const p = input.event.actor.permission;
  if (p !== null && !writeLevels.has(p)) return false;
  return !input.config.forks.allow_runs && isPullRequest(s) && s.is_fork !== false;
}

function isPullRequest(s: Event["subject"]): boolean {
  return s.type === "pull_request" || s.type === "merge_request";
}

export function decide(input: TriggerInput): Decision[] {
  const { event, config } = input;
  if (!triggeringKinds.has(event.kind)) return [{ type: "ignored", reason: `${event.kind} events do not start runs` }];
  if (event.kind === "comment_created") return commandDecisions(input);
  if (event.kind === "review_submitted") {
    const review = reviewDecision(event);
    return [review ? { type: "review", review } : { type: "ignored", reason: `a review that ${event.review_state ?? "has no state"} decides nothing` }];
  }
  if (event.kind === "status_transitioned") return [transitionDecision(input)];
  const out: Decision[] = [];
  const labels = event.kind === "issue_labeled" || event.kind === "pr_labeled" ? (event.label ? [event.label] : []) : event.subject.labels;
  for (const label of labels) {
    const configured = configuredLabel(Object.keys(config.triggers.labels), label, input.repo.forge);
    if (configured === undefined) continue;
    const runType = config.triggers.labels[configured]!;
    out.push(...forkGate(input, run(input, runType, `label:${configured}`, [`label:${configured}`, event.subject.head_sha ?? ""], null), true));
  }
  if (prUpdates.has(event.kind) && input.changedFiles && config.triggers.spec_paths.length > 0) {
    const hit = input.changedFiles.find((f) => config.triggers.spec_paths.some((g) => path.matchesGlob(f, g)));
    if (hit) out.push(...forkGate(input, run(input, "conformance_update", "spec_paths", ["spec_paths", event.subject.head_sha ?? ""], null), false));
  }
  if (out.length > 0) return out;
  if (event.kind === "issue_labeled" || event.kind === "pr_labeled") {
    return [{ type: "ignored", reason: `label "${event.label ?? ""}" is not a trigger in the repo config (triggers.labels)` }];
  }
  return [{ type: "ignored", reason: `${event.kind}: no configured label and no spec path (triggers.spec_paths) matched` }];
}

/**
 * The config's name for `label`: the same name, or on GitHub, which treats label names without
 * regard to case (a repo cannot have both "Bug" and "bug"), the same name in another case.
 * GitLab label names are case-sensitive, so there only the same name matches.
 */
function configuredLabel(configured: readonly string[], label: string, forge: EventRepo["forge"]): string | undefined {
  if (configured.includes(label)) return label;
  if (forge !== "github") return undefined;
  return configured.find((l) => l.toLowerCase() === label.toLowerCase());
}

/**
 * PRs from forks never start runs automatically; with `forks.allow_runs` a user with write access may
 * start one (a label they add, a command they type).
 */
function forkGate(input: TriggerInput, d: Extract<Decision, { type: "run" }>, askedByPerson: boolean): Decision[] {
  const s = input.event.subject;
  if (!isPullRequest(s) || s.is_fork === false) return [d];
  if (forkBarred(input)) {
    const why = s.is_fork ? "PR/MR comes from a fork" : "could not tell whether the PR/MR comes from a fork";
    return [{ type: "ignored", reason: `${why} and the repo config does not allow runs on forks (forks.allow_runs)` }];
  }
  if (!askedByPerson) return [{ type: "ignored", reason: "PR/MR comes from a fork: runs start only when a maintainer asks (label or command)" }];
  return [{ ...d, access: "write" }];
}

function transitionDecision(input: TriggerInput): Decision {
  const t = input.event.transition;
  if (!t) return { type: "ignored", reason: "status change without a target status" };
  const table = { ...input.jiraTransitions, ...input.config.triggers.jira_transitions };
  const match = Object.keys(table).find((status) => status.toLowerCase() === t.to.toLowerCase());
  if (!match) return { type: "ignored", reason: `Jira status "${t.to}" is not mapped to a run type (JIRA_TRANSITIONS, triggers.jira_transitions)` };
  return run(input, table[match]!, `jira:${match}`, ["transition", t.id ?? t.to], null);
}

function commandDecisions(input: TriggerInput): Decision[] {
  const { event, config } = input;
  if (input.commands.length === 0) return [{ type: "ignored", reason: "comment has no /orchestrator command" }];
  if (!config.triggers.commands) return [{ type: "ignored", reason: "slash commands are off in the repo config (triggers.commands)" }];
  const commentId = event.comment?.id ?? event.id;
  return input.commands.map((c, i): Decision => {
    if (c.type === "reply") return { type: "reply", reason: c.reason, body: c.body };
    const cmd = c.command;
    // Commands that run the PR's code (a retry runs it again) follow the fork rule of a new run.
    if (forkGatedCommands.has(cmd.name) && forkBarred(input)) return forkReply(input.event.subject);
    const keyParts = ["command", cmd.name, commentId, String(i)];
    switch (cmd.name) {
      case "plan":
      case "build":
      case "verify":
        return { ...run(input, config.commands.default_run_type, `command:${cmd.name}`, keyParts, cmd.name), access: "write" };
      case "run":
        return { ...run(input, cmd.runType, `command:run ${cmd.runType}`, keyParts, null), access: "write" };
      case "status":
        return { type: "status" };
      case "help":
        return { type: "ignored", reason: "help is answered by the command reader" };
      default:
        return { type: "control", command: cmd };
    }
  });
}

function forkReply(s: Event["subject"]): Decision {
  return {
    type: "reply",
    reason: s.is_fork ? "runs on forks are off" : "PR/MR origin unknown",
    body: s.is_fork
      ? "This PR/MR comes from a fork, and this repository's orchestrator config does not allow runs on forks (`forks.allow_runs`)."
      : "I could not tell whether this PR/MR comes from a fork, so I did not start a run; this repository's orchestrator config does not allow runs on forks (`forks.allow_runs`).",
  };
}

function run(
  input: TriggerInput,
  runType: RunType,
  trigger: string,
  keyParts: readonly string[],
  stopAfter: RunRequest["stop_after"],
): Extract<Decision, { type: "run" }> {
  const { event, repo } = input;
  const key = [event.source, repo.host, repo.full_path, subjectRef(event.subject), runType, ...keyParts].join(":");
  return {
    type: "run",
    access: "none",
    request: {
      run_type: runType,
      repo,
      subject: event.subject,
      requested_by: { source: event.source, login: event.actor.login, id: event.actor.id },
      idempotency_key: key,
      event_id: event.id,
      trigger,
      stop_after: stopAfter,
      jira_issue: event.subject.key,
    },
  };
}
