// GitLab webhooks → events, one rule per X-Gitlab-Event, written to GitLab's documented "Webhook events" payloads.
import { z } from "zod";
import { changedPaths } from "./github.js";
import type { DeliveryMeta, EventActor, EventKind, EventRepo, NormalizeResult } from "./schema.js";
import { hostOf, id, lookup, normalizeWith, optStr, rule, str, subject, type EventDraft, type Rule } from "./table.js";

const User = z.object({ id: id.nullish(), username: str, name: optStr });
// System hook pushes leave `id` out of `project` and give it as top-level `project_id`.
const Project = z.object({ id: id.nullish(), web_url: str, path_with_namespace: str, default_branch: optStr });
const Label = z.object({ title: str });
const Labels = z.array(Label).nullish().transform((ls) => (ls ?? []).map((l) => l.title));
const Flag = z.object({ previous: z.boolean().nullish(), current: z.boolean().nullish() }).nullish();
// `work_in_progress` is the name GitLab used for `draft` before 13.x; both may appear.
const Changes = z.object({ labels: z.object({ previous: Labels, current: Labels }).nullish(), draft: Flag, work_in_progress: Flag }).nullish();
const ZERO_SHA = /^0+$/;

/**
 * Usernames GitLab generates for non-human accounts: project and group access tokens act through
 * bot users (project_42_bot_3f2a…), and service accounts get service_account_group_345_c468… (or,
 * instance-wide, service_account_…) unless given a username of their own.
 */
const botUsernames = [/^(project|group)_\d+_bot(_[0-9a-f]+)?$/i, /^service_account_((group|project)_\d+_)?[0-9a-f]+$/i];

function repoOf(project: z.output<typeof Project>, projectId?: string | null): EventRepo {
  return {
    forge: "gitlab",
    host: hostOf(project.web_url) ?? "gitlab.com",
    full_path: project.path_with_namespace,
    default_branch: project.default_branch,
    id: project.id ?? projectId ?? null,
    installation_id: null,
  };
}

function actorOf(u: { id?: string | null; username: string; name?: string | null }): EventActor {
  return { login: u.username, id: u.id ?? null, name: u.name ?? null, is_bot: botUsernames.some((re) => re.test(u.username)), permission: null };
}

const MergeRequest = z.object({
  iid: z.number().int(),
  title: str,
  url: optStr,
  state: optStr,
  description: optStr,
  source_branch: str,
  target_branch: str,
  source_project_id: id.nullish(),
  target_project_id: id.nullish(),
  last_commit: z.object({ id: str }).nullish(),
  labels: Labels,
});

function mrSubject(mr: z.output<typeof MergeRequest>, labels?: string[]) {
  return subject({
    type: "merge_request",
    number: mr.iid,
    title: mr.title,
    url: mr.url,
    state: mr.state,
    head_sha: mr.last_commit?.id ?? null,
    head_ref: mr.source_branch,
    base_ref: mr.target_branch,
    is_fork: mrIsFork(mr),
    labels: labels ?? mr.labels,
  });
}

/** Whether an MR comes from another project (a fork); null when either project id is missing, as nobody can tell. */
export function mrIsFork(mr: { readonly source_project_id?: number | string | null; readonly target_project_id?: number | string | null }): boolean | null {
  return mr.source_project_id != null && mr.target_project_id != null ? String(mr.source_project_id) !== String(mr.target_project_id) : null;
}

/** The first label in `current` that was not in `previous`: what an "update" that only labelled added. */
function addedLabel(changes: z.output<typeof Changes>): string | null {
  const c = changes?.labels;
  if (!c) return null;
  return c.current.find((l) => !c.previous.includes(l)) ?? null;
}

/** An "update" that took the MR out of draft: GitLab's "ready for review". */
function leftDraft(changes: z.output<typeof Changes>): boolean {
  const c = changes?.draft ?? changes?.work_in_progress;
  return c?.previous === true && c.current === false;
}

/** The page a note was written on: its URL without the #note_… anchor. */
function pageOf(noteUrl: string | null): string | null {
  return noteUrl ? noteUrl.replace(/#.*$/, "") : null;
}

const notActedOn = (what: string) => `GitLab ${what} is not an event the orchestrator acts on`;

/**
 * An approval comes as "approval" (one user approved, the MR still needs more: Premium) or
 * "approved" (the MR is now approved; every approval on Free); `user` is who approved either way.
 */
const mrKinds: Record<string, EventKind> = {
  open: "pr_opened",
  reopen: "pr_reopened",
  close: "pr_closed",
  merge: "pr_closed",
  approval: "review_submitted",
  approved: "review_submitted",
};
const issueKinds: Record<string, EventKind> = { open: "issue_opened", reopen: "issue_reopened", close: "issue_closed" };
const finished = new Set(["success", "failed", "canceled", "skipped"]);

const mergeRequestHook = rule(
  z.object({
    object_kind: z.literal("merge_request"),
    user: User,
    project: Project,
    object_attributes: MergeRequest.extend({ action: optStr, oldrev: optStr }),
    labels: Labels,
    changes: Changes,
  }),
  (p): EventDraft | string => {
    const a = p.object_attributes;
    const action = a.action ?? "update";
    let kind = lookup(mrKinds, action);
    const label = action === "update" ? addedLabel(p.changes) : null;
    // An update carrying oldrev means new commits were pushed to the source branch (GitLab docs).
    if (!kind && action === "update" && a.oldrev) kind = "pr_synchronized";
    if (!kind && label) kind = "pr_labeled";
    if (!kind && action === "update" && leftDraft(p.changes)) kind = "pr_ready_for_review";
    if (!kind) return notActedOn(`Merge Request Hook action "${action}"`);
    return {
      kind,
      vendor_event: `merge_request.${action}`,
      repo: repoOf(p.project),
      actor: actorOf(p.user),
      subject: mrSubject(a, p.labels.length > 0 ? p.labels : a.labels),
      label: kind === "pr_labeled" ? label : null,
      // An approval has no text of its own: the description is the MR's, not the reviewer's.
      ...(kind === "review_submitted" ? { review_state: "approved", text: null } : { text: a.description }),
    };
  },
);

const issueHook = rule(
  z.object({
    object_kind: z.enum(["issue", "work_item"]),
    user: User,
    // A group-level work item (an epic on a group webhook) belongs to no project.
    project: Project.nullish(),
    object_attributes: z.object({ iid: z.number().int(), title: str, url: optStr, state: optStr, action: optStr, description: optStr, type: optStr }),
    labels: Labels,
    changes: Changes,
  }),
  (p) => {
    const a = p.object_attributes;
    if (!p.project) return `GitLab ${a.type ?? p.object_kind} ${a.iid} belongs to a group, not a project; runs act on project repositories`;
    const action = a.action ?? "update";
    const label = action === "update" ? addedLabel(p.changes) : null;
    const kind = lookup(issueKinds, action) ?? (label ? "issue_labeled" : undefined);
    if (!kind) return notActedOn(`Issue Hook action "${action}"`);
    return {
      kind,
      vendor_event: `issue.${action}`,
      repo: repoOf(p.project),
      actor: actorOf(p.user),
      subject: subject({ type: "issue", number: a.iid, title: a.title, url: a.url, state: a.state, labels: p.labels }),
      label,
      text: a.description,
    };
  },
);

const noteHook = rule(
  z.object({
    object_kind: z.literal("note"),
    user: User,
    project: Project.nullish(),
    object_attributes: z.object({
      id: id,
      note: str,
      noteable_type: str,
      url: optStr,
      action: optStr,
      system: z.boolean().nullish(),
      commit_id: optStr,
    }),
    merge_request: MergeRequest.nullish(),
    issue: z.object({ iid: z.number().int(), title: str, url: optStr, state: optStr, labels: Labels }).nullish(),
    commit: z.object({ id: str, url: optStr, title: optStr }).nullish(),
    snippet: z.object({ id: id, title: optStr }).nullish(),
  }),
  (p) => {
    const a = p.object_attributes;
    if (a.system) return "GitLab system note (written by GitLab itself, not a person)";
    if (a.action && a.action !== "create") return notActedOn(`Note Hook action "${a.action}"`);
    if (!p.project) return `GitLab note on a group-level ${a.noteable_type} (no project); runs act on project repositories`;
    let subj;
    switch (a.noteable_type) {
      case "MergeRequest":
        if (!p.merge_request) return `GitLab note on a merge request without its merge_request object; cannot tell which one`;
        // The note's merge_request and issue objects carry no url (GitLab docs); the note's own URL points into the page.
        subj = mrSubject({ ...p.merge_request, url: p.merge_request.url ?? pageOf(a.url) });
        break;
      case "Issue":
        if (!p.issue) return `GitLab note on an issue without its issue object; cannot tell which one`;
        subj = subject({ type: "issue", number: p.issue.iid, title: p.issue.title, url: p.issue.url ?? pageOf(a.url), state: p.issue.state, labels: p.issue.labels });
        break;
      case "Commit":
        subj = subject({ type: "commit", head_sha: p.commit?.id ?? a.commit_id, title: p.commit?.title ?? null, url: p.commit?.url ?? null });
        break;
      case "Snippet":
        subj = subject({ type: "snippet", title: p.snippet?.title ?? null, key: p.snippet ? String(p.snippet.id) : null });
        break;
      default:
        return notActedOn(`note on a ${a.noteable_type}`);
    }
    return {
      kind: "comment_created",
      vendor_event: `note.${a.noteable_type}`,
      repo: repoOf(p.project),
      actor: actorOf(p.user),
      subject: subj,
      comment: { id: a.id, url: a.url },
      text: a.note,
    };
  },
);

const pipelineHook = rule(
  z.object({
    object_kind: z.literal("pipeline"),
    user: User.nullish(),
    project: Project,
    object_attributes: z.object({ id: id, ref: optStr, tag: z.boolean().nullish(), sha: str, status: str, url: optStr, name: optStr }),
    merge_request: z
      .object({ iid: z.number().int(), title: optStr, url: optStr, source_branch: optStr, target_branch: optStr, source_project_id: id.nullish(), target_project_id: id.nullish() })
      .nullish(),
  }),
  (p) => {
    const a = p.object_attributes;
    if (!finished.has(a.status)) return `GitLab pipeline ${a.id} is ${a.status}, not finished`;
    const mr = p.merge_request;
    return {
      kind: "pipeline_completed",
      vendor_event: `pipeline.${a.status}`,
      repo: repoOf(p.project),
      actor: p.user ? actorOf(p.user) : { login: "gitlab", id: null, name: null, is_bot: true, permission: null },
      subject: mr
        ? subject({
            type: "merge_request",
            number: mr.iid,
            title: mr.title,
            url: mr.url,
            head_sha: a.sha,
            head_ref: mr.source_branch,
            base_ref: mr.target_branch,
            is_fork: mrIsFork(mr),
          })
        : subject({ type: "commit", head_sha: a.sha, head_ref: a.ref }),
      ci: {
        name: a.name,
        status: a.status,
        conclusion: a.status,
        url: a.url ?? `${p.project.web_url}/-/pipelines/${a.id}`,
      },
    };
  },
);

/**
 * Project hooks name the push in `object_kind`; system hooks only in `event_name`. The documented
 * tag push and system hook examples carry no `user_username`, only `user_id` and `user_name`.
 */
const pushPayload = z.object({
  object_kind: z.enum(["push", "tag_push"]).nullish(),
  event_name: optStr,
  ref: str,
  before: optStr,
  after: str,
  checkout_sha: optStr,
  user_id: id.nullish(),
  user_name: optStr,
  user_username: optStr,
  project_id: id.nullish(),
  project: Project,
  commits: z.array(z.object({ added: z.array(str).nullish(), removed: z.array(str).nullish(), modified: z.array(str).nullish() })).nullish(),
});

const pushHook = rule(pushPayload, (p) => {
  if (ZERO_SHA.test(p.after)) return `GitLab push deleted ${p.ref}; nothing to act on`;
  const pushKind = p.object_kind ?? p.event_name ?? "push";
  const isTag = pushKind === "tag_push" || p.ref.startsWith("refs/tags/");
  const name = p.ref.replace(/^refs\/(heads|tags)\//, "");
  // Without a username the login is `id:<user_id>`: a display name is neither unique nor safe to
  // compare with bot names (anyone may call themselves "orchestrator-bot"), and no GitLab username
  // contains ":", so it matches none. Permission checks go by user_id.
  const login = p.user_username ?? (p.user_id ? `id:${p.user_id}` : null);
  if (!login) return "GitLab push names no user (user_username or user_id); cannot tell who pushed";
  return {
    kind: isTag ? "tag_push" : "push",
    vendor_event: pushKind,
    repo: repoOf(p.project, p.project_id),
    actor: actorOf({ id: p.user_id ?? null, username: login, name: p.user_name }),
    subject: subject({ type: isTag ? "tag" : "branch", title: name, head_sha: p.checkout_sha ?? p.after, head_ref: name }),
    changed_paths: changedPaths(p.commits ?? []),
  };
});

const table: Record<string, Rule> = {
  "Merge Request Hook": mergeRequestHook,
  "Issue Hook": issueHook,
  "Confidential Issue Hook": issueHook,
  "Note Hook": noteHook,
  "Confidential Note Hook": noteHook,
  "Pipeline Hook": pipelineHook,
  "Push Hook": pushHook,
  "Tag Push Hook": pushHook,
};

/**
 * System hooks name every delivery "System Hook", and integration hooks "Service Hook"; the body's
 * object_kind (or, for system events such as push and project_create, event_name) says which it is.
 */
const hookKinds: Record<string, string> = {
  merge_request: "Merge Request Hook",
  push: "Push Hook",
  tag_push: "Tag Push Hook",
  note: "Note Hook",
  issue: "Issue Hook",
  work_item: "Issue Hook",
  pipeline: "Pipeline Hook",
};
const multiplexed = new Set(["System Hook", "Service Hook"]);

export function normalizeGitlab(name: string, payload: unknown, meta: DeliveryMeta): NormalizeResult {
  let event = name;
  if (multiplexed.has(name)) {
    const body = payload !== null && typeof payload === "object" ? (payload as { object_kind?: unknown; event_name?: unknown }) : {};
    const kind = typeof body.object_kind === "string" ? body.object_kind : typeof body.event_name === "string" ? body.event_name : null;
    const mapped = kind !== null ? lookup(hookKinds, kind) : undefined;
    if (!mapped) return { status: "ignored", reason: `GitLab ${name} "${kind ?? "(no object_kind or event_name)"}" is not an event the orchestrator acts on` };
    event = mapped;
  }
  return normalizeWith(table, "gitlab", event, payload, meta);
}
