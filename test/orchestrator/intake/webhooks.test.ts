import { createHmac } from "node:crypto";
import nock from "nock";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startApp, type RunningApp } from "../../helpers/app.js";
import { fixtures } from "../../helpers/fixtures.js";
import { appPrivateKey, codertocatApi, examplePayload, githubHeaders, issueComment } from "../../helpers/github.js";

const GITLAB = "https://gitlab.example.com";
const GITHUB_SECRET = "gh-secret";
const GITLAB_TOKEN = "gl-webhook-token";
const JIRA_SECRET = "jira-secret";
const notFound = { message: "404 File Not Found" };

function gitlabIssueLabeled(label = "orchestrator:impl"): string {
  const p = JSON.parse(fixtures("gitlab").find((f) => f.file === "issue.open.json")!.body);
  p.object_attributes.action = "update";
  p.labels = [{ id: 1, title: label }];
  p.changes.labels = { previous: [], current: [{ id: 1, title: label }] };
  return JSON.stringify(p);
}

const gitlabHeaders = (id: string, event = "Issue Hook", token = GITLAB_TOKEN) => ({
  "content-type": "application/json",
  "x-gitlab-event": event,
  "x-gitlab-token": token,
  "idempotency-key": id,
  "x-gitlab-event-uuid": id,
});

describe("webhook ingestion, end to end", () => {
  let running: RunningApp;
  const post = (path: string, headers: Record<string, string>, body: string) => fetch(`${running.url}${path}`, { method: "POST", headers, body });
  const processed = () => running.app.intake.worker.idle();
  const runRequests = () => running.app.intake.runRequests.all();

  beforeAll(async () => {
    nock.disableNetConnect();
    nock.enableNetConnect("127.0.0.1");
    running = await startApp({
      APP_ID: "4242",
      PRIVATE_KEY: appPrivateKey(),
      WEBHOOK_SECRET: GITHUB_SECRET,
      BOT_LOGIN: "scintilla[bot]",
      GITLAB_WEBHOOK_TOKEN: GITLAB_TOKEN,
      GITLAB_TOKEN: "glpat-test",
      GITLAB_URL: GITLAB,
      JIRA_WEBHOOK_SECRET: JIRA_SECRET,
      JIRA_PROJECT_REPOS: "TES=gitlab:gitlab-org/gitlab-test",
      INTAKE_RETRY_MS: "10",
    });
  });
  afterEach(() => {
    // Every forge call a test expects must have happened; nothing else (no merge API, ever) may have.
    expect(nock.pendingMocks()).toEqual([]);
    nock.cleanAll();
  });
  afterAll(async () => {
    await running.close();
    nock.enableNetConnect();
  });

  describe("GitLab", () => {
    it("refuses a wrong token with 401", async () => {
      const res = await post("/api/gitlab/webhooks", gitlabHeaders("x", "Issue Hook", "wrong"), gitlabIssueLabeled());
      expect(res.status).toBe(401);
    });

    it("acknowledges an event it does not act on with 202 and the reason", async () => {
      const res = await post("/api/gitlab/webhooks", gitlabHeaders("wiki-1", "Wiki Page Hook"), JSON.stringify({ object_kind: "wiki_page" }));
      expect(res.status).toBe(202);
      expect(await res.json()).toEqual({ delivery_id: "wiki-1", status: "ignored", reason: 'gitlab event "Wiki Page Hook" is not one the orchestrator acts on' });
    });

    it("refuses a malformed payload of a known event with 400 naming the field", async () => {
      const p = JSON.parse(gitlabIssueLabeled());
      delete p.object_attributes.iid;
      const res = await post("/api/gitlab/webhooks", gitlabHeaders("bad-1"), JSON.stringify(p));
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: string; message: string };
      expect(body.error).toBe("invalid_payload");
      expect(body.message).toContain("object_attributes.iid");
      // Refused deliveries are not recorded: GitLab may redeliver once the sender is fixed.
      expect(running.app.intake.queue.get("gitlab", "bad-1")).toBeUndefined();
    });

    it("turns 20 concurrent and then sequential duplicates of a delivery into one run request", async () => {
      const file = nock(GITLAB)
        .get("/api/v4/projects/1/repository/files/.gitlab%2Forchestrator.yml/raw")
        .query({ ref: "master" })
        .reply(404, notFound);
      const body = gitlabIssueLabeled();
      const acks = await Promise.all(Array.from({ length: 20 }, () => post("/api/gitlab/webhooks", gitlabHeaders("dup-1"), body)));
      expect(acks.map((r) => r.status)).toEqual(Array(20).fill(202));
      const statuses = await Promise.all(acks.map(async (r) => ((await r.json()) as { status: string }).status));
      expect(statuses.filter((s) => s === "accepted")).toHaveLength(1);
      expect(statuses.filter((s) => s === "duplicate")).toHaveLength(19);
      const again = await post("/api/gitlab/webhooks", gitlabHeaders("dup-1"), body);
      expect(await again.json()).toMatchObject({ status: "duplicate" });
      await processed();
      expect(file.isDone()).toBe(true);
      const rr = runRequests().filter((r) => r.request.event_id === "gitlab:dup-1");
      expect(rr).toHaveLength(1);
      expect(rr[0]!.request).toMatchObject({
        run_type: "impl_change",
        trigger: "label:orchestrator:impl",
        repo: { forge: "gitlab", full_path: "gitlabhq/gitlab-test" },
        subject: { type: "issue", number: 23 },
        requested_by: { source: "gitlab", login: "root" },
      });
      expect(running.app.intake.queue.get("gitlab", "dup-1")).toMatchObject({ status: "done", outcome: expect.stringMatching(/^run request rreq_\w+ created/) });
    });

    it("starts at most one run when the same trigger arrives in another delivery", async () => {
      nock(GITLAB).get("/api/v4/projects/1/repository/files/.gitlab%2Forchestrator.yml/raw").query(true).reply(404, notFound);
      const before = runRequests().length;
      await post("/api/gitlab/webhooks", gitlabHeaders("dup-2"), gitlabIssueLabeled());
      await processed();
      expect(runRequests()).toHaveLength(before);
      expect(running.app.intake.queue.get("gitlab", "dup-2")?.outcome).toMatch(/existing/);
    });

    it("posts a clear error and ignores the event when the repo config is invalid", async () => {
      nock(GITLAB).get("/api/v4/projects/1/repository/files/.gitlab%2Forchestrator.yml/raw").query(true).reply(200, "sensitivity: secret\n");
      const note = nock(GITLAB)
        .post("/api/v4/projects/1/issues/23/notes", (b: { body: string }) => b.body.includes("is not a valid orchestrator config") && b.body.includes("sensitivity"))
        .reply(201, { id: 1, body: "…", noteable_type: "Issue" });
      await post("/api/gitlab/webhooks", gitlabHeaders("badcfg-1"), gitlabIssueLabeled("orchestrator:spec"));
      await processed();
      expect(note.isDone()).toBe(true);
      expect(running.app.intake.queue.get("gitlab", "badcfg-1")).toMatchObject({ status: "done", outcome: expect.stringContaining("ignored: gitlabhq/gitlab-test:.gitlab/orchestrator.yml is not a valid") });
    });

    it("answers a Reporter's /orchestrator build politely and starts nothing", async () => {
      const p = JSON.parse(fixtures("gitlab").find((f) => f.file === "note.merge_request.json")!.body);
      p.object_attributes.note = "Could you?\n/orchestrator build";
      nock(GITLAB).get("/api/v4/projects/5/repository/files/.gitlab%2Forchestrator.yml/raw").query({ ref: "master" }).reply(404, notFound);
      nock(GITLAB).get("/api/v4/projects/5/members/all/1").reply(200, { id: 1, username: "root", access_level: 20 });
      const reply = nock(GITLAB)
        .post("/api/v4/projects/5/merge_requests/1/notes", (b: { body: string }) => /only project members with the Developer role or higher/.test(b.body))
        .reply(201, { id: 2 });
      const before = runRequests().length;
      await post("/api/gitlab/webhooks", gitlabHeaders("note-1", "Note Hook"), JSON.stringify(p));
      await processed();
      expect(reply.isDone()).toBe(true);
      expect(runRequests()).toHaveLength(before);
    });

    it("starts a build for a Developer's /orchestrator build on an MR", async () => {
      const p = JSON.parse(fixtures("gitlab").find((f) => f.file === "note.merge_request.json")!.body);
      p.object_attributes.note = "/orchestrator build";
      p.object_attributes.id = 999;
      nock(GITLAB).get("/api/v4/projects/5/repository/files/.gitlab%2Forchestrator.yml/raw").query({ ref: "master" }).reply(404, notFound);
      nock(GITLAB).get("/api/v4/projects/5/members/all/1").reply(200, { id: 1, username: "root", access_level: 30 });
      await post("/api/gitlab/webhooks", gitlabHeaders("note-2", "Note Hook"), JSON.stringify(p));
      await processed();
      expect(runRequests().find((r) => r.request.event_id === "gitlab:note-2")?.request).toMatchObject({
        run_type: "impl_change",
        stop_after: "build",
        subject: { type: "merge_request", number: 1 },
      });
    });
  });

  describe("Jira", () => {
    const sign = (body: string) => `sha256=${createHmac("sha256", JIRA_SECRET).update(body).digest("hex")}`;

    it("turns a transition into Ready for Agent into a run on the mapped repo", async () => {
      const p = JSON.parse(fixtures("jira").find((f) => f.file === "issue_updated.status.json")!.body);
      p.changelog.items[0].toString = "Ready for Agent";
      const body = JSON.stringify(p);
      nock(GITLAB).get("/api/v4/projects/gitlab-org%2Fgitlab-test").reply(200, { id: 5, path_with_namespace: "gitlab-org/gitlab-test", default_branch: "main" });
      nock(GITLAB).get("/api/v4/projects/gitlab-org%2Fgitlab-test/repository/files/.gitlab%2Forchestrator.yml/raw").query({ ref: "main" }).reply(404, notFound);
      const res = await post("/api/jira/webhooks", { "content-type": "application/json", "x-hub-signature": sign(body), "x-atlassian-webhook-identifier": "jira-1" }, body);
      expect(res.status).toBe(202);
      await processed();
      expect(runRequests().find((r) => r.request.event_id === "jira:jira-1")?.request).toMatchObject({
        run_type: "impl_change",
        trigger: "jira:Ready for Agent",
        repo: { forge: "gitlab", full_path: "gitlab-org/gitlab-test" },
        jira_issue: "TES-41",
      });
    });

    it("refuses a bad signature with 401", async () => {
      const body = fixtures("jira")[0]!.body;
      const res = await post("/api/jira/webhooks", { "content-type": "application/json", "x-hub-signature": sign("other") }, body);
      expect(res.status).toBe(401);
    });
  });

  describe("GitHub, through the App's Probot handlers", () => {
    const API = "https://api.github.com";
    const comment = (text: string, login: string, id: number) => issueComment("pr", text, login, id);
    const { token, noConfig, pull, permission } = codertocatApi();

    it("starts a plan-only run for a maintainer's /orchestrator plan", async () => {
      token();
      noConfig();
      pull();
      permission("Codertocat", "maintain");
      const body = comment("Let's see a plan first.\n\n/orchestrator plan", "Codertocat", 5001);
      const res = await post("/api/github/webhooks", await githubHeaders("issue_comment", body, GITHUB_SECRET, "gh-1"), body);
      expect(await res.json()).toEqual({ delivery_id: "gh-1", status: "accepted" });
      await processed();
      // The comment does not say where the PR comes from: its head is read from GitHub.
      expect(runRequests().find((r) => r.request.event_id === "github:gh-1")?.request).toMatchObject({
        run_type: "impl_change",
        stop_after: "plan",
        trigger: "command:plan",
        repo: { forge: "github", full_path: "Codertocat/Hello-World", installation_id: 77 },
        subject: { type: "pull_request", number: 1, is_fork: false, head_sha: "ec26c3e57ca3a959ca5aad62de7213c562f8c821", head_ref: "feature", base_ref: "main" },
      });
    });

    /** Delivers `login`'s comment `text` and checks the reply on PR #1 says each of `says`, and that no run was requested. */
    const repliesWithoutRun = async (text: string, login: string, commentId: number, deliveryId: string, says: string[]) => {
      const reply = nock(API)
        .post("/repos/Codertocat/Hello-World/issues/1/comments", (b: { body: string }) => says.every((s) => b.body.includes(s)))
        .reply(201, { id: commentId, body: "…" });
      const body = comment(text, login, commentId);
      await post("/api/github/webhooks", await githubHeaders("issue_comment", body, GITHUB_SECRET, deliveryId), body);
      await processed();
      expect(reply.isDone()).toBe(true);
      expect(runRequests().find((r) => r.request.event_id === `github:${deliveryId}`)).toBeUndefined();
    };

    it("starts nothing from a maintainer's command on a fork's PR, and says why", async () => {
      noConfig();
      pull("someone/Hello-World");
      permission("Codertocat", "admin");
      await repliesWithoutRun("/orchestrator build", "Codertocat", 5005, "gh-fork", ["comes from a fork", "forks.allow_runs"]);
    });

    it("says so when GitHub does not show the orchestrator the PR a maintainer's command is on", async () => {
      noConfig();
      nock(API).get("/repos/Codertocat/Hello-World/pulls/1").reply(404, { message: "Not Found" });
      permission("Codertocat", "admin");
      await repliesWithoutRun("/orchestrator build", "Codertocat", 5006, "gh-unseen", ["could not tell whether this PR/MR comes from a fork", "forks.allow_runs"]);
    });

    // Probot caches the installation token after the first test asks for it.
    it("tells a read-only user who can start runs", async () => {
      noConfig();
      // Asked once, and no PR read for someone who may not start runs.
      permission("visitor", "read");
      await repliesWithoutRun("/orchestrator run impl_change", "visitor", 5002, "gh-2", ["only users with write access", "@visitor"]);
    });

    it("answers a typo with 'did you mean' and the help", async () => {
      noConfig();
      const reply = nock(API)
        .post("/repos/Codertocat/Hello-World/issues/1/comments", (b: { body: string }) => b.body.includes("Did you mean `/orchestrator status`?") && b.body.includes("| command |"))
        .reply(201, { id: 2 });
      const body = comment("/orchestrator statsu", "visitor", 5003);
      await post("/api/github/webhooks", await githubHeaders("issue_comment", body, GITHUB_SECRET, "gh-3"), body);
      await processed();
      expect(reply.isDone()).toBe(true);
    });

    it("ignores our own bot, and comments without a command, before the 202 and without any forge call", async () => {
      const own = comment("/orchestrator plan", "scintilla[bot]", 5004);
      const r1 = await post("/api/github/webhooks", await githubHeaders("issue_comment", own, GITHUB_SECRET, "gh-4"), own);
      expect(await r1.json()).toMatchObject({ status: "ignored", reason: "sent by our own bot" });
      const chat = comment("LGTM, thanks!", "Codertocat", 5005);
      const r2 = await post("/api/github/webhooks", await githubHeaders("issue_comment", chat, GITHUB_SECRET, "gh-4b"), chat);
      expect(await r2.json()).toMatchObject({ status: "ignored", reason: "comment has no /orchestrator command" });
      expect(running.app.intake.queue.get("github", "gh-4")).toMatchObject({ status: "ignored", outcome: "sent by our own bot" });
    });

    it("acknowledges unknown events as ignored and refuses malformed known ones with the field", async () => {
      const star = JSON.stringify({ action: "created", starred_at: null });
      const r1 = await post("/api/github/webhooks", await githubHeaders("star", star, GITHUB_SECRET, "gh-5"), star);
      expect(await r1.json()).toMatchObject({ status: "ignored", reason: expect.stringContaining("star") });
      const p = JSON.parse(examplePayload("issues"));
      delete p.issue.number;
      const bad = JSON.stringify(p);
      const r2 = await post("/api/github/webhooks", await githubHeaders("issues", bad, GITHUB_SECRET, "gh-6"), bad);
      expect(r2.status).toBe(400);
      expect(await r2.json()).toMatchObject({ error: "invalid_payload", message: expect.stringContaining("issue.number") });
    });
  });
});
