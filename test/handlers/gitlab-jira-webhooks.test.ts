import { createHmac, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type RunningApp } from "../helpers/app.js";
import { fixtures } from "../helpers/fixtures.js";
import { gitlabSystemHookPush, gitlabTagPush, gitlabUnhandled, jiraComment, jiraServerUser, jiraUnhandled } from "../helpers/vendor-payloads.js";

const gitlab = fixtures("gitlab");
const jira = fixtures("jira");

/** The headers GitLab 16+ sends with a delivery (docs: "Webhook events" → delivery headers). */
function gitlabHeaders(event: string, token: string | undefined): Record<string, string> {
  const uuid = randomUUID();
  return {
    "content-type": "application/json",
    "user-agent": "GitLab/17.5.0",
    "x-gitlab-event": event,
    "x-gitlab-event-uuid": uuid,
    "x-gitlab-webhook-uuid": randomUUID(),
    "x-gitlab-instance": "https://gitlab.example.com",
    "idempotency-key": uuid,
    ...(token === undefined ? {} : { "x-gitlab-token": token }),
  };
}

/** Jira Cloud signs with HMAC-SHA256 of the body and sends `X-Hub-Signature: sha256=<hex>`. */
function jiraHeaders(body: string, secret: string | undefined): Record<string, string> {
  return {
    "content-type": "application/json; charset=utf-8",
    "user-agent": "Atlassian Webhook HTTP Client",
    "x-atlassian-webhook-identifier": String(Date.now()) + Math.floor(Math.random() * 1000),
    ...(secret === undefined ? {} : { "x-hub-signature": `sha256=${createHmac("sha256", secret).update(body).digest("hex")}` }),
  };
}

describe("GitLab and Jira webhook edges", () => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startApp({
      GITLAB_WEBHOOK_TOKEN: "gl-current",
      GITLAB_WEBHOOK_TOKEN_PREVIOUS: "gl-previous",
      JIRA_WEBHOOK_SECRET: "jira-current",
      JIRA_WEBHOOK_SECRET_PREVIOUS: "jira-previous",
    });
  });
  afterAll(async () => running.close());

  const post = (path: string, headers: Record<string, string>, body: string) => fetch(`${running.url}${path}`, { method: "POST", headers, body });

  describe("GitLab", () => {
    it.each(gitlab.map((f) => [f.file, f] as const))("accepts %s with the current token", async (_name, f) => {
      const headers = gitlabHeaders(f.meta["X-Gitlab-Event"]!, "gl-current");
      const res = await post("/api/gitlab/webhooks", headers, f.body);
      expect(res.status).toBe(202);
      // Ingestion acts on some events only; the others are acknowledged as ignored, with the reason.
      expect(await res.json()).toMatchObject({ delivery_id: headers["idempotency-key"], status: expect.stringMatching(/^(accepted|ignored)$/) });
    });

    it("accepts the previous token while rotating", async () => {
      const f = gitlab[0]!;
      const res = await post("/api/gitlab/webhooks", gitlabHeaders(f.meta["X-Gitlab-Event"]!, "gl-previous"), f.body);
      expect(res.status).toBe(202);
    });

    it.each([
      ["a wrong token", "gl-wrong", "bad_token"],
      ["no token", undefined, "missing_token"],
    ])("refuses %s with 401", async (_what, token, code) => {
      const f = gitlab[0]!;
      const res = await post("/api/gitlab/webhooks", gitlabHeaders(f.meta["X-Gitlab-Event"]!, token), f.body);
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ error: code, message: expect.stringContaining("X-Gitlab-Token") });
    });

    it.each(gitlabUnhandled().map(([event, body], i) => [`${event} #${i}`, event, JSON.stringify(body)] as const))(
      "answers %s, which it does not act on, 202 ignored with the reason",
      async (_label, event, body) => {
        const res = await post("/api/gitlab/webhooks", gitlabHeaders(event, "gl-current"), body);
        expect(res.status).toBe(202);
        const ack = (await res.json()) as { status: string; reason: string };
        expect(ack.status).toBe("ignored");
        expect(ack.reason.toLowerCase()).toContain(event.replace(/ Hook$/, "").toLowerCase());
      },
    );

    it.each([
      ["Tag Push Hook", gitlabTagPush(), "tag_push"],
      ["System Hook", gitlabSystemHookPush(), "push"],
    ])("normalises the documented %s shape and answers 202", async (event, payload, kind) => {
      const res = await post("/api/gitlab/webhooks", gitlabHeaders(event, "gl-current"), JSON.stringify(payload));
      expect(res.status).toBe(202);
      // Normalised: the screen then names the event kind, which starts no runs.
      expect(await res.json()).toMatchObject({ status: "ignored", reason: `${kind} events do not start runs` });
    });

    it("answers 400 naming X-Gitlab-Event when it is missing", async () => {
      const f = gitlab[0]!;
      const headers = gitlabHeaders("x", "gl-current");
      delete headers["x-gitlab-event"];
      const res = await post("/api/gitlab/webhooks", headers, f.body);
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({ error: "missing_header", message: expect.stringContaining("X-Gitlab-Event") });
    });
  });

  describe("Jira", () => {
    it.each(jira.map((f) => [f.file, f] as const))("accepts %s signed with X-Hub-Signature", async (_name, f) => {
      const headers = jiraHeaders(f.body, "jira-current");
      const res = await post("/api/jira/webhooks", headers, f.body);
      expect(res.status).toBe(202);
      expect(await res.json()).toMatchObject({ delivery_id: headers["x-atlassian-webhook-identifier"], status: expect.stringMatching(/^(accepted|ignored)$/) });
    });

    it("accepts a signature made with the previous secret", async () => {
      const f = jira[0]!;
      expect((await post("/api/jira/webhooks", jiraHeaders(f.body, "jira-previous"), f.body)).status).toBe(202);
    });

    it("accepts the ?token= query secret (Jira Server/Data Center webhooks have no signature)", async () => {
      const f = jira[0]!;
      const res = await post("/api/jira/webhooks?token=jira-current", jiraHeaders(f.body, undefined), f.body);
      expect(res.status).toBe(202);
    });

    it.each([
      ["a wrong signature", "/api/jira/webhooks", "jira-wrong", "bad_signature"],
      ["a wrong query token", "/api/jira/webhooks?token=nope", undefined, "bad_token"],
      ["neither", "/api/jira/webhooks", undefined, "missing_signature"],
    ])("refuses %s with 401", async (_what, path, secret, code) => {
      const f = jira[0]!;
      const res = await post(path, jiraHeaders(f.body, secret), f.body);
      expect(res.status).toBe(401);
      const err = await res.json();
      expect(err).toEqual({ error: code, message: expect.stringContaining("JIRA_WEBHOOK_SECRET") });
    });

    it.each(jiraUnhandled().map((p) => [`${String(p["webhookEvent"])} ${String(p["issue_event_type_name"] ?? "")}`, String(p["webhookEvent"]), JSON.stringify(p)] as const))(
      "answers %s, which it does not act on, 202 ignored with the reason",
      async (_label, event, body) => {
        const res = await post("/api/jira/webhooks", jiraHeaders(body, "jira-current"), body);
        expect(res.status).toBe(202);
        // The reason names the event, or says what an issue update lacked.
        expect(await res.json()).toMatchObject({ status: "ignored", reason: expect.stringMatching(new RegExp(`"${event}"|changed no status`)) });
      },
    );

    it("answers a Jira Server comment event without its issue 202 ignored, not 400", async () => {
      const body = JSON.stringify(jiraComment("comment_created", { author: jiraServerUser(), issue: null, base: "https://jira.example.com" }));
      const res = await post("/api/jira/webhooks?token=jira-current", jiraHeaders(body, undefined), body);
      expect(res.status).toBe(202);
      expect(await res.json()).toMatchObject({ status: "ignored", reason: expect.stringContaining("without its issue") });
    });

    it("answers 400 when a signed body has no webhookEvent", async () => {
      const body = JSON.stringify({ timestamp: 1 });
      const res = await post("/api/jira/webhooks", jiraHeaders(body, "jira-current"), body);
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({ error: "invalid_payload", message: expect.stringContaining("webhookEvent") });
    });
  });

  it("keeps the GitHub edge off when the App is not configured", async () => {
    const res = await post("/api/github/webhooks", { "content-type": "application/json" }, "{}");
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: "not_found", message: expect.any(String) });
  });
});
