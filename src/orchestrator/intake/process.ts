// Processes one queued event: our bot and other bots, repo config, triggers, permissions, then run requests and replies.
import type { Event, EventRepo, EventSubject, Permission } from "../../events/schema.js";
import { writeLevels, type ForgeIntakePorts, type TrackerCommentPoster } from "../forge-ports.js";
import { configPath, loadRepoConfig } from "../repo-config/loader.js";
import type { RepoConfig } from "../repo-config/schema.js";
import type { RunSummary } from "../ledger/port.js";
import type { RunControl, RunControlTarget } from "../run-control.js";
import { subjectRef, type RunRequestLog, type RunRequestSink, type RunType } from "../run-request.js";
import type { CommandLine, CommandReader } from "../triggers/command.js";
import { decide, needsChangedFiles, needsPullRequestHead, reviewDecision, triggeringKinds, type Decision } from "../triggers/decide.js";
import type { EventProcessor } from "./worker.js";

/** Which repo a Jira project's runs act on. */
export interface MappedRepo {
  readonly forge: "github" | "gitlab";
  readonly host: string;
  readonly full_path: string;
}

export interface IntakeSettings {
  /** Our own bot accounts (any forge); their events are always ignored. */
  readonly botLogins: readonly string[];
  readonly jiraProjects: Readonly<Record<string, MappedRepo>>;
  readonly jiraTransitions: Readonly<Record<string, RunType>>;
  /** Jira accountIds allowed to use run-starting commands in every mapped project. */
  readonly jiraCommandUsers: readonly string[];
}

export interface ProcessorDeps {
  readonly forges: Readonly<Record<"github" | "gitlab", ForgeIntakePorts>>;
  readonly jira?: TrackerCommentPoster;
  /** Where run requests go, and the ones already made about a subject (for `/orchestrator status`). */
  readonly runRequests: RunRequestSink & Pick<RunRequestLog, "forSubject">;
  readonly readCommands: CommandReader;
  readonly runControl?: RunControl;
  /** The runs about an issue, PR/MR or Jira issue, newest first (from the run ledger), for `/orchestrator status`. */
  readonly runs?: (repo: EventRepo, subject: EventSubject) => Promise<readonly RunSummary[]>;
  readonly settings: IntakeSettings;
}

/**
 * Why an event cannot start anything, decided from the event alone (no forge call), or null. Runs
 * before the 202 too, so most deliveries (comments without a command, pushes, CI) never enter the queue.
 */
export function eventScreen(botLogins: readonly string[], readCommands: CommandReader): (event: Event) => string | null {
  const own = ownLogins(botLogins);
  // The comment is read only when the cheaper checks pass.
  return (event) => skipReason(own, event, () => commentCommands(event, readCommands));
}

function ownLogins(botLogins: readonly string[]): ReadonlySet<string> {
  return new Set(botLogins.map((l) => l.toLowerCase()));
}

function skipReason(own: ReadonlySet<string>, event: Event, commands: () => readonly CommandLine[]): string | null {
  if (own.has(event.actor.login.toLowerCase())) return "sent by our own bot";
  if (!triggeringKinds.has(event.kind)) return `${event.kind} events do not start runs`;
  if (event.kind === "comment_created" && commands().length === 0) return "comment has no /orchestrator command";
  if (event.kind === "review_submitted" && !reviewDecision(event)) return `a review that ${event.review_state ?? "has no state"} decides nothing`;
  return null;
}

/** The slash commands of a comment; none for any other event. */
function commentCommands(event: Event, readCommands: CommandReader): CommandLine[] {
  return event.kind === "comment_created" && event.text ? readCommands(event.text, event.source) : [];
}

export function eventProcessor(deps: ProcessorDeps): EventProcessor {
  const own = ownLogins(deps.settings.botLogins);
  return async (event) => {
    // Read once: the screen and the triggers both need the comment's commands.
    const commands = commentCommands(event, deps.readCommands);
    const skip = skipReason(own, event, () => commands);
    if (skip) return `ignored: ${skip}`;
    const repo = resolveRepo(event, deps.settings);
    if (typeof repo === "string") return `ignored: ${repo}`;
    const forge = deps.forges[repo.forge];

    const loaded = await loadRepoConfig(forge, repo);
    if (!loaded.ok) {
      await reply(deps, event, repo, `The orchestrator ignored this event because \`${configPath(repo.forge)}\` on the default branch is invalid:\n\n${loaded.error}`);
      return `ignored: ${loaded.error}`;
    }
    const config = loaded.config;
    if (!config.enabled) return "ignored: the orchestrator is turned off in the repo config (enabled: false)";
    if (event.actor.is_bot && !config.bots.allow.some((b) => b.toLowerCase() === event.actor.login.toLowerCase())) {
      return `ignored: ${event.actor.login} is a bot not listed in the repo config (bots.allow)`;
    }

    const known = await withPullRequestOrigin(deps, repo, config, event, commands);
    const changedFiles = needsChangedFiles(known, config) ? await forge.changedFiles(repo, known.subject.number!) : null;
    const decisions = decide({ event: known, repo, config, jiraTransitions: deps.settings.jiraTransitions, commands, changedFiles });
    const outcomes: string[] = [];
    for (const d of decisions) outcomes.push(await act(deps, known, repo, config, d));
    return outcomes.join("; ");
  };
}

/**
 * The event with its PR/MR's head and fork origin read from the forge when deciding needs them
 * (needsPullRequestHead); unknown when the forge does not show the PR/MR. For a command, the PR is read only for
 * someone who may start runs, so a visitor's command costs no API call for it; the permission
 * found is kept on the event for the decisions.
 */
async function withPullRequestOrigin(deps: ProcessorDeps, repo: EventRepo, config: RepoConfig, event: Event, commands: readonly CommandLine[]): Promise<Event> {
  if (!needsPullRequestHead(event, config, commands)) return event;
  let known = event;
  if (event.kind === "comment_created") {
    known = { ...event, actor: { ...event.actor, permission: await permissionOf(deps, event, repo, config) } };
    if (!writeLevels.has(known.actor.permission!)) return known;
  }
  // A PR/MR the forge does not show the orchestrator has an unknown origin: the fork rule replies saying so.
  const head = await deps.forges[repo.forge].pullRequestHead(repo, known.subject.number!);
  return { ...known, subject: { ...known.subject, ...(head ?? { is_fork: null }) } };
}

async function act(deps: ProcessorDeps, event: Event, repo: EventRepo, config: RepoConfig, d: Decision): Promise<string> {
  switch (d.type) {
    case "ignored":
      return `ignored: ${d.reason}`;
    case "reply":
      return `replied (${d.reason})${await reply(deps, event, repo, d.body)}`;
    case "status": {
      const rows = deps.runRequests.forSubject(repo.full_path, subjectRef(event.subject));
      const runs = deps.runs ? await deps.runs(repo, event.subject) : [];
      const tables: string[] = [];
      if (rows.length > 0)
        tables.push(
          ["| run request | type | trigger | requested by | at |", "| --- | --- | --- | --- | --- |"]
            .concat(rows.map((r) => `| \`${r.id}\` | ${r.request.run_type} | ${r.request.trigger} | ${r.request.requested_by.login} | ${r.created_at} |`))
            .join("\n"),
        );
      if (runs.length > 0)
        tables.push(
          ["| run | type | status | started | updated |", "| --- | --- | --- | --- | --- |"]
            .concat(runs.map((r) => `| \`${r.run_id}\` | ${r.run_type} | **${r.status}** | ${r.created_at} | ${r.updated_at} |`))
            .join("\n"),
        );
      const body = tables.length === 0 ? "No runs have been requested here yet." : tables.join("\n\n");
      return `replied (status)${await reply(deps, event, repo, body)}`;
    }
    case "control": {
      const denied = await deny(deps, event, repo, config, `/orchestrator ${d.command.name}`);
      if (denied) return denied;
      const body = deps.runControl
        ? await deps.runControl.apply(d.command, controlTarget(event, repo, config))
        : `\`/orchestrator ${d.command.name}\` acts on a run, and no workflow engine is running on this server yet, so nothing was changed.`;
      return `${d.command.name}${deps.runControl ? "" : " not applied (no workflow engine)"}${await reply(deps, event, repo, body)}`;
    }
    case "review": {
      if (!deps.runControl) return "ignored: no workflow engine is running on this server";
      // Like the forge's own rule: a review by someone without write access does not count, and is not answered.
      const permission = await permissionOf(deps, event, repo, config);
      if (!writeLevels.has(permission)) return `ignored: ${event.actor.login} has ${permission} permission, write needed for a review to decide`;
      const body = await deps.runControl.review(d.review, controlTarget(event, repo, config));
      if (body === null) return "ignored: no run on this PR/MR is waiting for approval";
      return `review ${d.review.state}${await reply(deps, event, repo, body)}`;
    }
    case "run": {
      if (d.access === "write") {
        const denied = await deny(deps, event, repo, config, d.request.trigger.replace(/^command:/, "/orchestrator "));
        if (denied) return denied;
      }
      const r = await deps.runRequests.submit(d.request);
      return `run request ${r.id} ${r.status} (${d.request.run_type}, ${d.request.trigger})`;
    }
  }
}

function controlTarget(event: Event, repo: EventRepo, config: RepoConfig): RunControlTarget {
  return { source: event.source, repo, subject: event.subject, actor: event.actor, eventId: event.id, approvers: config.approvers };
}

/** Null when the actor may start runs; otherwise posts a polite reply and returns the outcome. */
async function deny(deps: ProcessorDeps, event: Event, repo: EventRepo, config: RepoConfig, what: string): Promise<string | null> {
  const permission = await permissionOf(deps, event, repo, config);
  if (writeLevels.has(permission)) return null;
  const who =
    event.source === "jira"
      ? "Jira users listed in JIRA_COMMAND_USERS or in the repo config's `jira.command_users`"
      : repo.forge === "github"
        ? "users with write access to this repository (write, maintain or admin)"
        : "project members with the Developer role or higher";
  const body = `Sorry @${event.actor.login}, only ${who} can use \`${what}\`. Please ask one of them to run it.`;
  return `ignored: ${event.actor.login} has ${permission} permission, write needed for ${what}${await reply(deps, event, repo, body)}`;
}

async function permissionOf(deps: ProcessorDeps, event: Event, repo: EventRepo, config: RepoConfig): Promise<Permission> {
  if (event.actor.permission) return event.actor.permission;
  if (event.source === "jira") {
    const allowed = [...deps.settings.jiraCommandUsers, ...config.jira.command_users];
    return allowed.includes(event.actor.login) ? "write" : "none";
  }
  return deps.forges[repo.forge].permission(repo, event.actor.login, event.actor.id);
}

/** Posts on the event's issue/PR/MR/commit (or Jira issue); returns a note for the outcome when it could not. */
async function reply(deps: ProcessorDeps, event: Event, repo: EventRepo, body: string): Promise<string> {
  if (event.source === "jira") {
    if (!deps.jira || !event.subject.key) return " (reply not posted: the Jira API is not configured, see JIRA_EMAIL and JIRA_API_TOKEN)";
    await deps.jira.postIssueComment(event.subject.key, body);
    return "";
  }
  if (!canReplyOn(event.subject)) return " (reply not posted: the event has no issue, PR/MR or commit to comment on)";
  await deps.forges[repo.forge].postComment(repo, event.subject, body);
  return "";
}

function canReplyOn(s: EventSubject): boolean {
  return s.number !== null || (s.type === "commit" && s.head_sha !== null);
}

function resolveRepo(event: Event, settings: IntakeSettings): EventRepo | string {
  if (event.repo) return event.repo;
  const project = event.tracker?.project_key;
  const mapped = project && Object.hasOwn(settings.jiraProjects, project) ? settings.jiraProjects[project] : undefined;
  if (!mapped) return `Jira project ${project ?? "(unknown)"} is not mapped to a repository (JIRA_PROJECT_REPOS)`;
  return { forge: mapped.forge, host: mapped.host, full_path: mapped.full_path, default_branch: null, id: null, installation_id: null };
}
