import { createRequire } from "node:module";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { githubEventNames } from "../../src/events/github.js";
import { normalize, sha256Hex } from "../../src/events/index.js";
import { Event, eventSources, type NormalizeResult } from "../../src/events/schema.js";
import { parseCommands } from "../../src/handlers/commands/parse.js";
import { fixtures } from "../helpers/fixtures.js";

const require = createRequire(import.meta.url);
const definitions = require("@octokit/webhooks-examples") as { name: string; examples: Record<string, unknown>[] }[];
const meta = (body = "{}") => ({ deliveryId: "d-1", receivedAt: new Date("2026-01-02T03:04:05Z"), rawSha256: sha256Hex(body) });

function expectValid(r: NormalizeResult): void {
  if (r.status === "event") expect(() => Event.parse(r.event)).not.toThrow();
  else if (r.status === "ignored") expect(r.reason.length).toBeGreaterThan(10);
  else throw new Error(`unexpected invalid: ${r.message}`);
}

describe("GitHub normaliser", () => {
  const cases = definitions
    .filter((d) => (githubEventNames as readonly string[]).includes(d.name))
    .flatMap((d) => d.examples.map((payload, i) => ({ name: d.name, i, action: String(payload["action"] ?? "-"), payload })));

  it("covers every listed event in @octokit/webhooks-examples", () => {
    expect(new Set(cases.map((c) => c.name))).toEqual(new Set(githubEventNames));
    expect(cases.length).toBeGreaterThan(80);
  });

  it.each(cases)("$name #$i ($action) normalises or is ignored with a reason", ({ name, payload }) => {
    expectValid(normalize("github", name, payload, meta()));
  });

  const kinds: Record<string, string> = {
    "issues.opened": "issue_opened",
    "issues.labeled": "issue_labeled",
    "issue_comment.created": "comment_created",
    "pull_request.opened": "pr_opened",
    "pull_request.synchronize": "pr_synchronized",
    "pull_request.closed": "pr_closed",
    "pull_request.labeled": "pr_labeled",
    "pull_request_review.submitted": "review_submitted",
    "check_suite.completed": "checks_completed",
    "check_run.completed": "checks_completed",
  };
  it.each(Object.entries(kinds))("%s becomes %s", (vendor, kind) => {
    const [name, action] = vendor.split(".");
    const c = cases.find((x) => x.name === name && x.action === action);
    expect(c, vendor).toBeDefined();
    const r = normalize("github", name!, c!.payload, meta());
    expect(r.status).toBe("event");
    if (r.status !== "event") return;
    expect(r.event).toMatchObject({ kind, source: "github", id: "github:d-1", vendor_event: vendor, schema_version: 1 });
    expect(r.event.repo).toMatchObject({ forge: "github", host: "github.com" });
    expect(r.event.repo?.full_path).toMatch(/^[^/]+\/[^/]+$/);
  });

  it("reads a PR's head, base, labels and fork origin", () => {
    const c = cases.find((x) => x.name === "pull_request" && x.action === "opened")!;
    const payload = structuredClone(c.payload) as { pull_request: { head: { repo: { full_name: string } } } };
    const same = normalize("github", "pull_request", payload, meta());
    payload.pull_request.head.repo.full_name = "someone-else/fork";
    const fork = normalize("github", "pull_request", payload, meta());
    expect(same.status === "event" && same.event.subject).toMatchObject({ type: "pull_request", is_fork: false, base_ref: expect.any(String) });
    expect(same.status === "event" && same.event.subject.head_sha).toMatch(/^[0-9a-f]{40}$/);
    expect(fork.status === "event" && fork.event.subject.is_fork).toBe(true);
  });

  it("marks a comment on a PR conversation as about the pull request, with its text and id", () => {
    const c = cases.find((x) => x.name === "issue_comment" && x.action === "created")!;
    const payload = structuredClone(c.payload) as { issue: Record<string, unknown>; comment: { body: string } };
    payload.issue["pull_request"] = { url: "https://api.github.com/repos/o/r/pulls/1" };
    payload.comment.body = "/orchestrator build";
    const r = normalize("github", "issue_comment", payload, meta());
    expect(r.status === "event" && r.event).toMatchObject({ subject: { type: "pull_request" }, text: "/orchestrator build", comment: { id: expect.any(String) } });
  });

  it("flags bots by account type", () => {
    const c = cases.find((x) => x.name === "issues" && x.action === "opened")!;
    const payload = structuredClone(c.payload) as { sender: { login: string; type: string } };
    payload.sender = { ...payload.sender, login: "renovate[bot]", type: "Bot" };
    const r = normalize("github", "issues", payload, meta());
    expect(r.status === "event" && r.event.actor).toMatchObject({ login: "renovate[bot]", is_bot: true });
  });

  it("reports a malformed payload of a known event, naming the field", () => {
    const c = cases.find((x) => x.name === "pull_request" && x.action === "opened")!;
    const payload = structuredClone(c.payload) as { pull_request: { head: Record<string, unknown> } };
    delete payload.pull_request.head["sha"];
    const r = normalize("github", "pull_request", payload, meta());
    expect(r).toMatchObject({ status: "invalid", field: "pull_request.head.sha" });
    expect(r.status === "invalid" && r.message).toContain("pull_request.head.sha");
  });

  it("ignores events it does not act on, with a reason", () => {
    expect(normalize("github", "star", { action: "created" }, meta())).toMatchObject({ status: "ignored", reason: expect.stringContaining("star") });
  });

  it("derives id, received_at and raw_ref from the delivery", () => {
    const c = cases.find((x) => x.name === "issues" && x.action === "opened")!;
    const body = JSON.stringify(c.payload);
    const r = normalize("github", "issues", c.payload, { deliveryId: "abc", receivedAt: new Date("2026-05-06T07:08:09.000Z"), rawSha256: sha256Hex(body) });
    expect(r.status === "event" && r.event).toMatchObject({ id: "github:abc", received_at: "2026-05-06T07:08:09.000Z", raw_ref: `sha256:${sha256Hex(body)}` });
  });
});

describe("GitLab normaliser", () => {
  it.each(fixtures("gitlab"))("normalises $file", ({ body, meta: headers }) => {
    const r = normalize("gitlab", headers["X-Gitlab-Event"]!, JSON.parse(body), meta(body));
    expect(r.status, JSON.stringify(r)).toBe("event");
    expectValid(r);
  });

  const byFile = (file: string) => fixtures("gitlab").find((f) => f.file === file)!;
  const event = (file: string, mutate: (p: Record<string, unknown>) => void = () => {}) => {
    const f = byFile(file);
    const p = JSON.parse(f.body) as Record<string, unknown>;
    mutate(p);
    const r = normalize("gitlab", f.meta["X-Gitlab-Event"]!, p, meta(f.body));
    if (r.status !== "event") throw new Error(JSON.stringify(r));
    return r.event;
  };

  it("reads merge requests: iid, branches, head sha, fork origin", () => {
    expect(event("merge_request.open.json")).toMatchObject({
      kind: "pr_opened",
      repo: { forge: "gitlab", host: "example.com", full_path: "gitlabhq/gitlab-test", default_branch: "master", id: "1" },
      subject: { type: "merge_request", number: 1, head_ref: "ms-viewport", base_ref: "master", head_sha: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7", is_fork: false },
    });
    expect(event("merge_request.update.json").kind).toBe("pr_synchronized");
  });

  it("turns an update that only adds a label into pr_labeled with that label", () => {
    const e = event("merge_request.open.json", (p) => {
      (p["object_attributes"] as Record<string, unknown>)["action"] = "update";
    });
    expect(e).toMatchObject({ kind: "pr_labeled", label: "Platform" });
  });

  it("reads an MR approval (per user on Premium, whole MR on Free) as an approving review by the approver", () => {
    for (const action of ["approval", "approved"]) {
      const e = event("merge_request.open.json", (p) => {
        (p["object_attributes"] as Record<string, unknown>)["action"] = action;
      });
      expect(e).toMatchObject({ kind: "review_submitted", review_state: "approved", vendor_event: `merge_request.${action}`, actor: { login: "root" }, text: null });
      expect(e.subject).toMatchObject({ type: "merge_request", number: 1 });
    }
  });

  it("reads notes on merge requests and issues as comments with text", () => {
    expect(event("note.merge_request.json")).toMatchObject({ kind: "comment_created", subject: { type: "merge_request", number: 1 }, text: "This MR needs work." });
    expect(event("note.issue.json")).toMatchObject({ kind: "comment_created", subject: { type: "issue", number: 17 } });
  });

  it("reads a note on a commit", () => {
    const p = { ...JSON.parse(byFile("note.issue.json").body), issue: undefined, commit: { id: "cfe32cf61b73a0d5e9f13e774abde7ff789b1660", url: "http://x/c", title: "fix" } };
    p.object_attributes = { ...p.object_attributes, noteable_type: "Commit", commit_id: "cfe32cf61b73a0d5e9f13e774abde7ff789b1660" };
    const r = normalize("gitlab", "Note Hook", p, meta());
    expect(r.status === "event" && r.event.subject).toMatchObject({ type: "commit", head_sha: "cfe32cf61b73a0d5e9f13e774abde7ff789b1660" });
  });

  it("reads pipelines as pipeline_completed with CI status and MR", () => {
    expect(event("pipeline.json")).toMatchObject({
      kind: "pipeline_completed",
      ci: { status: "success", url: "http://example.com/gitlab-org/gitlab-test/-/pipelines/31" },
      subject: { type: "merge_request", number: 1, head_sha: "bcbb5ec396a2c0f828686f14fac9b80b780504f2" },
    });
  });

  it("ignores a pipeline that has not finished", () => {
    const f = byFile("pipeline.json");
    const p = JSON.parse(f.body);
    p.object_attributes.status = "running";
    expect(normalize("gitlab", "Pipeline Hook", p, meta())).toMatchObject({ status: "ignored", reason: expect.stringContaining("running") });
  });

  it("reads pushes with the paths they touch, and tag pushes", () => {
    expect(event("push.json")).toMatchObject({ kind: "push", subject: { type: "branch", head_ref: "master" }, changed_paths: ["CHANGELOG", "app/controller/application.rb"] });
    const f = byFile("push.json");
    const tag = { ...JSON.parse(f.body), object_kind: "tag_push", ref: "refs/tags/v1.0.0" };
    const r = normalize("gitlab", "Tag Push Hook", tag, meta());
    expect(r.status === "event" && r.event).toMatchObject({ kind: "tag_push", subject: { type: "tag", head_ref: "v1.0.0" } });
  });

  it("reads confidential issues and system hooks like their project hooks", () => {
    const f = byFile("issue.open.json");
    expect(normalize("gitlab", "Confidential Issue Hook", JSON.parse(f.body), meta()).status).toBe("event");
    const mr = byFile("merge_request.open.json");
    expect(normalize("gitlab", "System Hook", JSON.parse(mr.body), meta()).status).toBe("event");
  });

  it("ignores system notes and unknown hooks; reports a malformed payload with the field", () => {
    const f = byFile("note.issue.json");
    const p = JSON.parse(f.body);
    p.object_attributes.system = true;
    expect(normalize("gitlab", "Note Hook", p, meta())).toMatchObject({ status: "ignored" });
    expect(normalize("gitlab", "Wiki Page Hook", {}, meta())).toMatchObject({ status: "ignored", reason: expect.stringContaining("Wiki Page Hook") });
    const bad = JSON.parse(byFile("merge_request.open.json").body);
    delete bad.project.path_with_namespace;
    expect(normalize("gitlab", "Merge Request Hook", bad, meta())).toMatchObject({ status: "invalid", field: "project.path_with_namespace" });
  });
});

describe("Jira normaliser", () => {
  it.each(fixtures("jira"))("normalises $file", ({ body, meta: m }) => {
    const r = normalize("jira", m["webhookEvent"]!, JSON.parse(body), meta(body));
    expect(r.status, JSON.stringify(r)).toBe("event");
    expectValid(r);
  });

  const f = (file: string) => JSON.parse(fixtures("jira").find((x) => x.file === file)!.body);

  it("reads a status transition from the changelog", () => {
    const r = normalize("jira", "jira:issue_updated", f("issue_updated.status.json"), meta());
    expect(r.status === "event" && r.event).toMatchObject({
      kind: "status_transitioned",
      repo: null,
      tracker: { host: "some-instance-test.atlassian.net", project_key: "TES" },
      subject: { type: "jira_issue", key: "TES-41", url: "https://some-instance-test.atlassian.net/browse/TES-41" },
      transition: { id: "10227", from: "To Do", to: "In Progress" },
      actor: { login: "5c5f880629be9642ba529340", is_bot: false },
    });
  });

  it("ignores an update that changes no status", () => {
    const p = f("issue_updated.status.json");
    p.changelog.items = [{ field: "summary", fieldtype: "jira", fromString: "a", toString: "b" }];
    expect(normalize("jira", "jira:issue_updated", p, meta())).toMatchObject({ status: "ignored", reason: expect.stringContaining("status") });
  });

  it("reads comments, plain or in Atlassian Document Format", () => {
    const p = f("comment_created.json");
    expect(normalize("jira", "comment_created", p, meta())).toMatchObject({ status: "event", event: { kind: "comment_created", text: "Added a comment", comment: { id: "10019" } } });
    p.comment.body = {
      type: "doc",
      version: 1,
      content: [
        { type: "paragraph", content: [{ type: "text", text: "please" }] },
        { type: "paragraph", content: [{ type: "text", text: "/orchestrator build" }] },
      ],
    };
    expect(normalize("jira", "comment_created", p, meta())).toMatchObject({ status: "event", event: { text: "please\n/orchestrator build" } });
  });

  it("keeps an ADF comment's code blocks fenced and its quotes quoted, so commands in them are not read", () => {
    const p = f("comment_created.json");
    const para = (text: string) => ({ type: "paragraph", content: [{ type: "text", text }] });
    p.comment.body = {
      type: "doc",
      version: 1,
      content: [
        { type: "codeBlock", attrs: { language: "shell" }, content: [{ type: "text", text: "/orchestrator build\n/orchestrator cancel" }] },
        { type: "blockquote", content: [para("/orchestrator run impl_change"), { type: "paragraph", content: [{ type: "text", text: "a" }, { type: "hardBreak" }, { type: "text", text: "/orchestrator retry" }] }] },
        { type: "paragraph", content: [{ type: "text", text: "/orchestrator plan" }, { type: "hardBreak" }, { type: "text", text: "thanks" }] },
      ],
    };
    const r = normalize("jira", "comment_created", p, meta());
    expect(r).toMatchObject({ status: "event" });
    const text = r.status === "event" ? r.event.text! : "";
    expect(text).toBe("```\n/orchestrator build\n/orchestrator cancel\n```\n> /orchestrator run impl_change\n> a\n> /orchestrator retry\n/orchestrator plan\nthanks");
    expect(parseCommands(text, "jira").map((c) => (c.type === "command" ? c.command.name : c.reason))).toEqual(["plan"]);
  });

  it("renders ADF code that holds backticks, inline code, mentions, emoji, links, statuses and task lists as readers see them", () => {
    const p = f("comment_created.json");
    const t = (text: string, marks?: object[]) => ({ type: "text", text, ...(marks ? { marks } : {}) });
    p.comment.body = {
      type: "doc",
      version: 1,
      content: [
        { type: "codeBlock", content: [t("```\n/orchestrator build\n```")] },
        { type: "paragraph", content: [t("/orchestrator cancel", [{ type: "code" }])] },
        {
          type: "paragraph",
          content: [
            t("/orchestrator reject plan ask "),
            { type: "mention", attrs: { id: "5b10a2844c20165700ede21g", text: "@Bob" } },
            t(" first "),
            { type: "emoji", attrs: { shortName: ":smile:", text: "😄" } },
            t(" see "),
            { type: "inlineCard", attrs: { url: "https://example.atlassian.net/browse/OPS-1" } },
            t(" "),
            { type: "status", attrs: { text: "BLOCKED", color: "red" } },
          ],
        },
        { type: "taskList", content: [{ type: "taskItem", attrs: { state: "TODO" }, content: [t("check logs")] }, { type: "taskItem", attrs: { state: "DONE" }, content: [t("/orchestrator plan")] }] },
      ],
    };
    const r = normalize("jira", "comment_created", p, meta());
    const text = r.status === "event" ? r.event.text! : "";
    expect(text).toBe(
      "````\n```\n/orchestrator build\n```\n````\n`/orchestrator cancel`\n/orchestrator reject plan ask @Bob first 😄 see https://example.atlassian.net/browse/OPS-1 BLOCKED\ncheck logs\n/orchestrator plan",
    );
    expect(parseCommands(text, "jira").map((c) => (c.type === "command" ? c.command : c.reason))).toEqual([
      { name: "reject", access: "write", item: "plan", reason: "ask @Bob first 😄 see https://example.atlassian.net/browse/OPS-1 BLOCKED" },
      { name: "plan", access: "write" },
    ]);
  });

  it("flags app accounts as bots and reports a payload without an issue key", () => {
    const p = f("comment_created.json");
    p.comment.author.accountType = "app";
    expect(normalize("jira", "comment_created", p, meta())).toMatchObject({ event: { actor: { is_bot: true } } });
    delete p.issue.key;
    expect(normalize("jira", "comment_created", p, meta())).toMatchObject({ status: "invalid", field: "issue.key" });
  });
});

describe("every normaliser", () => {
  it("maps an action named like an Object.prototype member to nothing (ignored), not to a function", () => {
    for (const name of ["issues", "pull_request"]) {
      const p = JSON.parse(JSON.stringify(definitions.find((d) => d.name === name)!.examples[0]!)) as Record<string, unknown>;
      p["action"] = "toString";
      expect(normalize("github", name, p, meta())).toEqual({ status: "ignored", reason: `GitHub ${name}.toString is not an event the orchestrator acts on` });
    }
    const mr = fixtures("gitlab").find((x) => x.meta["X-Gitlab-Event"] === "Merge Request Hook")!;
    const body = JSON.parse(mr.body) as { object_attributes: Record<string, unknown> };
    body.object_attributes["action"] = "constructor";
    expect(normalize("gitlab", "Merge Request Hook", body, meta())).toMatchObject({ status: "ignored" });
  });

  const names = [...githubEventNames, "Merge Request Hook", "Note Hook", "Pipeline Hook", "Issue Hook", "Push Hook", "System Hook", "jira:issue_updated", "jira:issue_created", "comment_created", "constructor", "__proto__"];
  it("never throws on arbitrary input", () => {
    fc.assert(
      fc.property(fc.constantFrom(...eventSources), fc.constantFrom(...names), fc.anything(), (source, name, payload) => {
        const r = normalize(source, name, payload, meta());
        expect(["event", "ignored", "invalid"]).toContain(r.status);
      }),
      { numRuns: 2000 },
    );
  });

  it("never throws on real payloads with fields removed or replaced", () => {
    const real = [
      ...definitions.filter((d) => (githubEventNames as readonly string[]).includes(d.name)).map((d) => ({ source: "github" as const, name: d.name, p: d.examples[0]! })),
      ...fixtures("gitlab").map((x) => ({ source: "gitlab" as const, name: x.meta["X-Gitlab-Event"]!, p: JSON.parse(x.body) as Record<string, unknown> })),
      ...fixtures("jira").map((x) => ({ source: "jira" as const, name: x.meta["webhookEvent"]!, p: JSON.parse(x.body) as Record<string, unknown> })),
    ];
    fc.assert(
      fc.property(fc.constantFrom(...real), fc.nat(), fc.anything(), (c, k, value) => {
        const p = structuredClone(c.p);
        const keys = Object.keys(p);
        const key = keys[k % keys.length]!;
        const target = p[key];
        if (target && typeof target === "object" && !Array.isArray(target)) {
          const inner = Object.keys(target);
          if (inner.length > 0) (target as Record<string, unknown>)[inner[k % inner.length]!] = value;
        } else p[key] = value;
        const r = normalize(c.source, c.name, p, meta());
        if (r.status === "event") expect(() => Event.parse(r.event)).not.toThrow();
      }),
      { numRuns: 1500 },
    );
  });
});
