// Documented GitLab, Jira and GitHub payload variants the shared fixtures do not cover, through the normalisers.
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { normalize, sha256Hex } from "../../src/events/index.js";
import { Event, type NormalizeResult } from "../../src/events/schema.js";
import {
  gitlabIssue,
  gitlabMergeRequest,
  gitlabNote,
  gitlabPipeline,
  gitlabSystemHookPush,
  gitlabTagPush,
  gitlabUnhandled,
  gitlabUser,
  jiraCloudUser,
  jiraComment,
  jiraIssue,
  jiraIssueUpdated,
  jiraServerUser,
  jiraUnhandled,
  statusItem,
} from "../helpers/vendor-payloads.js";

const require = createRequire(import.meta.url);
const definitions = require("@octokit/webhooks-examples") as { name: string; examples: Record<string, unknown>[] }[];
const meta = { deliveryId: "d-7", receivedAt: new Date("2026-03-02T10:00:00Z"), rawSha256: sha256Hex("{}") };

function eventOf(r: NormalizeResult): Event {
  if (r.status !== "event") throw new Error(`expected an event, got ${JSON.stringify(r)}`);
  return Event.parse(r.event);
}
const gitlab = (name: string, payload: unknown) => normalize("gitlab", name, payload, meta);
const jira = (payload: Record<string, unknown>) => normalize("jira", String(payload["webhookEvent"]), payload, meta);

describe("GitLab merge request actions", () => {
  it.each([
    ["open", "pr_opened"],
    ["reopen", "pr_reopened"],
    ["close", "pr_closed"],
    ["merge", "pr_closed"],
    ["approved", "review_submitted"],
    ["approval", "review_submitted"],
  ])("%s becomes %s, on the self-managed host and subgroup path of the payload", (action, kind) => {
    const e = eventOf(gitlab("Merge Request Hook", gitlabMergeRequest(action)));
    expect(e).toMatchObject({ kind, vendor_event: `merge_request.${action}`, actor: { login: "jsmith", id: "7", is_bot: false } });
    expect(e.repo).toEqual({ forge: "gitlab", host: "gitlab.example.com", full_path: "platform/backend/api", default_branch: "main", id: "42", installation_id: null });
    expect(e.subject).toMatchObject({ type: "merge_request", number: 12, head_ref: "feature/rate-limit", base_ref: "main", is_fork: false });
  });

  it("keeps merged apart from closed through the MR state", () => {
    expect(eventOf(gitlab("Merge Request Hook", gitlabMergeRequest("merge"))).subject.state).toBe("merged");
    expect(eventOf(gitlab("Merge Request Hook", gitlabMergeRequest("close"))).subject.state).toBe("closed");
  });

  it.each(["unapproved", "unapproval"])("ignores %s with a reason naming the action", (action) => {
    expect(gitlab("Merge Request Hook", gitlabMergeRequest(action))).toEqual({ status: "ignored", reason: expect.stringContaining(`"${action}"`) });
  });

  it("reads an update with oldrev as new commits on the source branch", () => {
    const e = eventOf(gitlab("Merge Request Hook", gitlabMergeRequest("update", { attributes: { oldrev: "95790bf891e76fee5e1747ab589903a6a1f80f22" } })));
    expect(e).toMatchObject({ kind: "pr_synchronized", subject: { head_sha: "1f0c4e6b2a7d9e8c3b5a4f6e7d8c9b0a1e2f3d4c" } });
  });

  it.each(["draft", "work_in_progress"])("reads an update that clears %s as ready for review", (field) => {
    const e = eventOf(gitlab("Merge Request Hook", gitlabMergeRequest("update", { changes: { [field]: { previous: true, current: false } } })));
    expect(e).toMatchObject({ kind: "pr_ready_for_review", vendor_event: "merge_request.update", label: null });
  });

  it("ignores an update that only turned the MR into a draft or edited it", () => {
    expect(gitlab("Merge Request Hook", gitlabMergeRequest("update", { changes: { draft: { previous: false, current: true } } }))).toMatchObject({ status: "ignored" });
    expect(gitlab("Merge Request Hook", gitlabMergeRequest("update", { changes: { title: { previous: "a", current: "b" } } }))).toMatchObject({ status: "ignored" });
  });

  it.each([
    ["project access token bot", "project_42_bot_3f2a9c1d4e5b6a7c", true],
    ["group access token bot", "group_9_bot", true],
    ["group service account", "service_account_group_345_c468757e6df2fc104de54ea470539bb5", true],
    ["instance service account", "service_account_6b1f3e9a", true],
    ["person", "project_lead", false],
  ])("flags a %s by its generated username", (_what, username, isBot) => {
    const e = eventOf(gitlab("Merge Request Hook", gitlabMergeRequest("open", { user: gitlabUser(username, 90) })));
    expect(e.actor).toMatchObject({ login: username, is_bot: isBot });
  });
});

describe("GitLab notes", () => {
  it.each([
    ["MergeRequest", { type: "merge_request", number: 12, url: "https://gitlab.example.com/platform/backend/api/-/merge_requests/12" }],
    ["Issue", { type: "issue", number: 31, url: "https://gitlab.example.com/platform/backend/api/-/issues/31", labels: ["bug"] }],
    ["Commit", { type: "commit", head_sha: "cfe32cf61b73a0d5e9f13e774abde7ff789b1660", url: "https://gitlab.example.com/platform/backend/api/-/commit/cfe32cf61b73a0d5e9f13e774abde7ff789b1660" }],
    ["Snippet", { type: "snippet", key: "53", title: "limits.rb" }],
  ] as const)("reads a note on a %s as a comment on it", (type, subject) => {
    const e = eventOf(gitlab("Note Hook", gitlabNote(type)));
    expect(e).toMatchObject({ kind: "comment_created", vendor_event: `note.${type}`, text: "/orchestrator build", comment: { id: "5001" }, subject });
  });

  it("reads confidential notes like notes and ignores edits", () => {
    expect(eventOf(gitlab("Confidential Note Hook", gitlabNote("Issue"))).subject.number).toBe(31);
    expect(gitlab("Note Hook", gitlabNote("MergeRequest", "update"))).toEqual({ status: "ignored", reason: expect.stringContaining('"update"') });
  });
});

describe("GitLab pipelines", () => {
  it.each(["success", "failed", "canceled", "skipped"])("a %s pipeline is completed, with and without a merge request", (status) => {
    const withMr = eventOf(gitlab("Pipeline Hook", gitlabPipeline(status, true)));
    expect(withMr).toMatchObject({ kind: "pipeline_completed", ci: { status, conclusion: status, url: "https://gitlab.example.com/platform/backend/api/-/pipelines/3107" } });
    expect(withMr.subject).toMatchObject({ type: "merge_request", number: 12, head_ref: "feature/rate-limit", base_ref: "main" });
    const onBranch = eventOf(gitlab("Pipeline Hook", gitlabPipeline(status, false)));
    expect(onBranch.subject).toMatchObject({ type: "commit", head_ref: "main", head_sha: "1f0c4e6b2a7d9e8c3b5a4f6e7d8c9b0a1e2f3d4c" });
  });

  it.each(["created", "waiting_for_resource", "preparing", "pending", "running", "canceling", "manual", "scheduled"])("a %s pipeline is not finished", (status) => {
    expect(gitlab("Pipeline Hook", gitlabPipeline(status, true))).toEqual({ status: "ignored", reason: expect.stringContaining(status) });
  });
});

describe("GitLab issues and work items", () => {
  it.each([
    ["open", "issue_opened"],
    ["close", "issue_closed"],
    ["reopen", "issue_reopened"],
  ])("%s becomes %s, confidential or not", (action, kind) => {
    for (const name of ["Issue Hook", "Confidential Issue Hook"]) {
      const e = eventOf(gitlab(name, gitlabIssue(action, { confidential: name.startsWith("Confidential") })));
      expect(e).toMatchObject({ kind, subject: { type: "issue", number: 31, labels: ["bug"] }, repo: { host: "gitlab.example.com" } });
    }
  });

  it("reads a project work item (a task) like an issue", () => {
    expect(eventOf(gitlab("Issue Hook", gitlabIssue("open", { kind: "work_item", type: "Task" })))).toMatchObject({ kind: "issue_opened", subject: { number: 31 } });
  });

  it("ignores a group-level work item (an epic has no project), and notes on it, with a reason", () => {
    const epic = gitlabIssue("open", { kind: "work_item", type: "Epic" });
    delete epic["project"];
    expect(gitlab("Issue Hook", epic)).toEqual({ status: "ignored", reason: expect.stringContaining("Epic 31 belongs to a group") });
    const note = { ...gitlabNote("Issue"), project: null, project_id: null };
    expect(gitlab("Note Hook", note)).toEqual({ status: "ignored", reason: expect.stringContaining("group-level Issue") });
  });
});

describe("GitLab pushes and system hooks", () => {
  it("reads the documented tag push, which names the user by id and display name only", () => {
    const e = eventOf(gitlab("Tag Push Hook", gitlabTagPush()));
    expect(e).toMatchObject({ kind: "tag_push", vendor_event: "tag_push", subject: { type: "tag", head_ref: "v1.4.0", head_sha: "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7" } });
    // Not the display name as login: it is not unique, and anyone may take a bot's name as theirs.
    expect(e.actor).toEqual({ login: "id:7", id: "7", name: "Jane Smith", is_bot: false, permission: null });
    const spoof = { ...gitlabTagPush(), user_name: "orchestrator-bot" };
    expect(eventOf(gitlab("Tag Push Hook", spoof)).actor.login).toBe("id:7");
    expect(gitlab("Tag Push Hook", { ...gitlabTagPush(), user_id: null })).toEqual({ status: "ignored", reason: expect.stringContaining("cannot tell who pushed") });
  });

  it("reads a system hook push, named by event_name, with the project id from project_id", () => {
    const e = eventOf(gitlab("System Hook", gitlabSystemHookPush()));
    expect(e).toMatchObject({ kind: "push", vendor_event: "push", subject: { type: "branch", head_ref: "main" }, changed_paths: [] });
    expect(e.repo).toMatchObject({ host: "gitlab.example.com", full_path: "platform/backend/api", id: "42" });
    const tag = { ...gitlabSystemHookPush(), event_name: "tag_push", ref: "refs/tags/v2" };
    expect(eventOf(gitlab("System Hook", tag))).toMatchObject({ kind: "tag_push", subject: { head_ref: "v2" } });
  });

  it("reads integration (Service Hook) deliveries by object_kind", () => {
    expect(eventOf(gitlab("Service Hook", gitlabMergeRequest("open")))).toMatchObject({ kind: "pr_opened", subject: { number: 12 } });
    expect(eventOf(gitlab("Service Hook", gitlabNote("Issue")))).toMatchObject({ kind: "comment_created" });
  });

  it.each(gitlabUnhandled().map(([name, body], i) => [`${name} #${i}`, name, body] as const))("ignores %s with a reason", (_label, name, body) => {
    const r = gitlab(name, body);
    expect(r.status).toBe("ignored");
    // The reason names what was ignored: the hook (or, for a system hook, its kind).
    expect(r.status === "ignored" && r.reason.toLowerCase()).toContain(name.replace(/ Hook$/, "").toLowerCase());
  });

  it("names the system event it ignores", () => {
    expect(gitlab("System Hook", { event_name: "user_create", username: "js" })).toEqual({ status: "ignored", reason: 'GitLab System Hook "user_create" is not an event the orchestrator acts on' });
  });
});

describe("Jira issue updates", () => {
  it.each(["issue_generic", "issue_work_started", "issue_resolved", "issue_closed", "issue_reopened"])("reads a status change sent as %s", (type) => {
    const items = [{ field: "resolution", fieldtype: "jira", fieldId: "resolution", from: null, fromString: null, to: "10000", toString: "Done" }, statusItem("To Do", "In Progress")];
    const e = eventOf(jira(jiraIssueUpdated(items, { type })));
    expect(e).toMatchObject({ kind: "status_transitioned", transition: { id: "10231", from: "To Do", to: "In Progress" }, tracker: { host: "acme.atlassian.net", project_key: "PAY" } });
    expect(e.subject).toMatchObject({ type: "jira_issue", key: "PAY-17", url: "https://acme.atlassian.net/browse/PAY-17", state: "In Progress" });
  });

  it("reads a changelog item that leaves out fromString/toString, instead of rejecting the delivery", () => {
    const attachment = { field: "Attachment", fieldtype: "jira", fieldId: "attachment", to: "10001" };
    expect(eventOf(jira(jiraIssueUpdated([attachment, statusItem("In Progress", "Done")])))).toMatchObject({ transition: { to: "Done" } });
    expect(jira(jiraIssueUpdated([attachment]))).toEqual({ status: "ignored", reason: expect.stringContaining("no status") });
  });

  it("ignores an update without a changelog", () => {
    const p = jiraIssueUpdated([]);
    delete p["changelog"];
    expect(jira(p)).toEqual({ status: "ignored", reason: expect.stringContaining("status") });
  });

  it("names a privacy-restricted Cloud user by accountId and flags app accounts", () => {
    const e = eventOf(jira(jiraIssueUpdated([statusItem("To Do", "Done")])));
    expect(e.actor).toEqual({ login: "5b10ac8d82e05b22cc7d4ef5", id: "5b10ac8d82e05b22cc7d4ef5", name: "Jane Smith", is_bot: false, permission: null });
    const app = eventOf(jira(jiraIssueUpdated([statusItem("To Do", "Done")], { user: jiraCloudUser("557058:f58131cb-b67d-43c7-b30d-6b58d40bd077", "app") })));
    expect(app.actor).toMatchObject({ login: "557058:f58131cb-b67d-43c7-b30d-6b58d40bd077", is_bot: true });
  });

  it("reads Jira Server/Data Center: user by name, issue links on the site's own scheme, port and context path", () => {
    const base = "http://jira.example.com:8080/jira";
    const p = jiraIssueUpdated([statusItem("Open", "In Progress")], { user: jiraServerUser(base), issue: jiraIssue(base, "OPS-5") });
    const e = eventOf(jira(p));
    expect(e.actor).toEqual({ login: "jsmith", id: null, name: "Jane Smith", is_bot: false, permission: null });
    expect(e.tracker).toEqual({ host: "jira.example.com:8080", project_key: "OPS" });
    expect(e.subject.url).toBe("http://jira.example.com:8080/jira/browse/OPS-5");
  });

  it("reads a created issue", () => {
    const p = { timestamp: 1772445600000, webhookEvent: "jira:issue_created", issue_event_type_name: "issue_created", user: jiraServerUser(), issue: jiraIssue("https://jira.example.com") };
    expect(eventOf(jira(p))).toMatchObject({ kind: "issue_opened", text: "Refunds over 30s are dropped.", subject: { url: "https://jira.example.com/browse/PAY-17" } });
  });
});

describe("Jira comments and other events", () => {
  it("reads a comment by a Server user", () => {
    const e = eventOf(jira(jiraComment("comment_created", { author: jiraServerUser(), base: "https://jira.example.com" })));
    expect(e).toMatchObject({ kind: "comment_created", text: "/orchestrator build", actor: { login: "jsmith" }, comment: { id: "10230", url: "https://jira.example.com/rest/api/2/issue/10417/comment/10230" } });
  });

  it("takes the site from the comment when the issue has no self link", () => {
    const issue = jiraIssue("https://jira.example.com");
    delete issue["self"];
    expect(eventOf(jira(jiraComment("comment_created", { issue, base: "https://jira.example.com" }))).tracker).toEqual({ host: "jira.example.com", project_key: "PAY" });
  });

  it("ignores a comment event that carries no issue (Jira Server) instead of rejecting it", () => {
    expect(jira(jiraComment("comment_created", { issue: null }))).toEqual({ status: "ignored", reason: expect.stringContaining("without its issue") });
  });

  it.each(jiraUnhandled().map((p) => [`${String(p["webhookEvent"])} ${String(p["issue_event_type_name"] ?? "")}`, p] as const))("ignores %s with a reason", (_label, p) => {
    const r = jira(p);
    expect(r.status).toBe("ignored");
    // The reason names the event, or says what an issue update lacked.
    expect(r.status === "ignored" && r.reason).toMatch(new RegExp(`"${String(p["webhookEvent"])}"|changed no status`));
  });
});

describe("GitHub optional and null fields", () => {
  const example = (name: string, action: string) => structuredClone(definitions.find((d) => d.name === name)!.examples.find((e) => e["action"] === action)!);

  it.each([
    ["issues", "reopened", "issue_reopened"],
    ["issues", "closed", "issue_closed"],
    ["pull_request", "reopened", "pr_reopened"],
    ["pull_request", "ready_for_review", "pr_ready_for_review"],
  ])("%s.%s becomes %s", (name, action, kind) => {
    const payload = name === "issues" && action === "closed" ? { ...example("issues", "reopened"), action: "closed" } : example(name, action);
    expect(eventOf(normalize("github", name, payload, meta))).toMatchObject({ kind, vendor_event: `${name}.${action}` });
  });

  it("reads a PR whose fork was deleted (head.repo null) as from a fork", () => {
    const p = example("pull_request", "opened") as { pull_request: { head: Record<string, unknown> } };
    p.pull_request.head["repo"] = null;
    expect(eventOf(normalize("github", "pull_request", p, meta)).subject).toMatchObject({ is_fork: true, head_ref: expect.any(String) });
  });

  it("reads deliveries without an installation, and senders that are bots or organisations", () => {
    const p = example("issues", "opened") as Record<string, unknown> & { sender: Record<string, unknown> };
    delete p["installation"];
    p.sender = { ...p.sender, login: "acme-automation", type: "Bot" };
    const bot = eventOf(normalize("github", "issues", p, meta));
    expect(bot.repo?.installation_id).toBeNull();
    expect(bot.actor).toMatchObject({ login: "acme-automation", is_bot: true });
    p.sender = { ...p.sender, login: "acme", type: "Organization" };
    expect(eventOf(normalize("github", "issues", p, meta)).actor).toMatchObject({ login: "acme", is_bot: false });
  });
});
