import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type RunningApp } from "../helpers/app.js";
import { appPrivateKey, examplePayload, githubHeaders } from "../helpers/github.js";
import { captureLogs, type CapturedLogs } from "../helpers/logs.js";

const SECRET = "log-test-secret";

describe("log lines about a delivery", () => {
  let running: RunningApp;
  let logs: CapturedLogs;
  beforeAll(async () => {
    logs = captureLogs();
    running = await startApp({ APP_ID: "1", PRIVATE_KEY: appPrivateKey(), WEBHOOK_SECRET: SECRET, GITLAB_WEBHOOK_TOKEN: "t", LOG_LEVEL: "info" }, logs.stream);
  });
  afterAll(async () => running.close());

  it("carry the delivery id, for accepted and refused deliveries alike", async () => {
    const url = `${running.url}/api/github/webhooks`;
    const body = examplePayload("issues");
    const accepted = await githubHeaders("issues", body, SECRET, "delivery-accepted");
    const refused = await githubHeaders("issues", body, "wrong-secret", "delivery-refused");
    const broken = await githubHeaders("issues", "{nope", SECRET, "delivery-broken");
    expect((await fetch(url, { method: "POST", headers: accepted, body })).status).toBe(202);
    expect((await fetch(url, { method: "POST", headers: refused, body })).status).toBe(401);
    expect((await fetch(url, { method: "POST", headers: broken, body: "{nope" })).status).toBe(400);
    const gitlab = await fetch(`${running.url}/api/gitlab/webhooks`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-gitlab-token": "t", "x-gitlab-event": "Push Hook", "idempotency-key": "delivery-gitlab" },
      body: "{}",
    });
    // An empty Push Hook body lacks the fields ingestion reads: refused with 400, and still logged with its id.
    expect(gitlab.status).toBe(400);

    const ids = ["delivery-accepted", "delivery-refused", "delivery-broken", "delivery-gitlab"];
    const requestLines = logs.lines().filter((l) => "req_id" in l);
    for (const id of ids) expect(requestLines.filter((l) => l["req_id"] === id).length, id).toBeGreaterThan(0);
    // No line logged while handling a delivery lacks its id.
    expect(requestLines.every((l) => ids.includes(String(l["req_id"])))).toBe(true);
    expect(logs.lines().find((l) => l["msg"] === "webhook delivery" && l["delivery_id"] === "delivery-accepted")).toMatchObject({
      source: "github",
      event: "issues",
      ack: expect.stringMatching(/^(accepted|ignored)$/),
    });
  });

  it("say at startup which edges are off and what turns each on", () => {
    const msgs = logs.lines().map((l) => String(l["msg"]));
    expect(msgs).toContain("edge on");
    expect(msgs.find((m) => m.startsWith("edge off: Jira"))).toContain("JIRA_WEBHOOK_SECRET");
  });
});
