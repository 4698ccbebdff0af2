import http from "node:http";
import { sign } from "@octokit/webhooks-methods";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type RunningApp } from "../helpers/app.js";
import { appPrivateKey, examplePayload, githubHeaders } from "../helpers/github.js";

const SECRET = "current-webhook-secret";
const PREVIOUS = "previous-webhook-secret";
const LIMIT = 32 * 1024;

/** Sends a body of `size` bytes with chunked transfer encoding (no Content-Length), returning status and body. */
function postChunked(url: string, headers: Record<string, string>, size: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: "POST", headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    // The server answers and closes before we finish writing; that is the behaviour under test.
    req.on("error", (err: NodeJS.ErrnoException) => (err.code === "EPIPE" || err.code === "ECONNRESET" ? undefined : reject(err)));
    const chunk = Buffer.alloc(4096, "a");
    let sent = 0;
    const writeMore = () => {
      while (sent < size) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once("drain", writeMore);
      }
      req.end();
    };
    writeMore();
  });
}

describe("GitHub webhook edge", () => {
  let running: RunningApp;
  let url: string;
  beforeAll(async () => {
    running = await startApp({
      APP_ID: "12345",
      PRIVATE_KEY: appPrivateKey(),
      WEBHOOK_SECRET: SECRET,
      WEBHOOK_SECRET_PREVIOUS: PREVIOUS,
      WEBHOOK_BODY_LIMIT: String(LIMIT),
    });
    url = `${running.url}/api/github/webhooks`;
  });
  afterAll(async () => running.close());

  it.each(["issues", "issue_comment", "pull_request", "pull_request_review", "check_suite", "check_run", "push"])(
    "accepts a signed %s delivery with 202",
    async (event) => {
      const body = examplePayload(event);
      const headers = await githubHeaders(event, body, SECRET);
      // pull_request examples are ~24 KB: still under the 32 KiB limit set here.
      const res = await fetch(url, { method: "POST", headers, body });
      expect(res.status).toBe(202);
      // Ingestion acts on some actions only; the others are acknowledged as ignored, with the reason.
      expect(await res.json()).toMatchObject({ delivery_id: headers["x-github-delivery"], status: expect.stringMatching(/^(accepted|ignored)$/) });
    },
  );

  it("accepts a delivery signed with the previous secret while rotating", async () => {
    const body = examplePayload("issue_comment");
    const res = await fetch(url, { method: "POST", headers: await githubHeaders("issue_comment", body, PREVIOUS), body });
    expect(res.status).toBe(202);
  });

  it("refuses a delivery signed with another secret with 401", async () => {
    const body = examplePayload("issues");
    const res = await fetch(url, { method: "POST", headers: await githubHeaders("issues", body, "not-our-secret"), body });
    expect(res.status).toBe(401);
    const err = (await res.json()) as Record<string, string>;
    expect(Object.keys(err).sort()).toEqual(["error", "message"]);
    expect(err).toMatchObject({ error: "bad_signature", message: expect.stringContaining("WEBHOOK_SECRET") });
  });

  it("refuses a body changed after signing with 401", async () => {
    const body = examplePayload("issues");
    const headers = await githubHeaders("issues", body, SECRET);
    const res = await fetch(url, { method: "POST", headers, body: body.replace("{", '{"injected":true,') });
    expect(res.status).toBe(401);
  });

  it("refuses a delivery without a signature with 401", async () => {
    const body = examplePayload("issues");
    const headers = await githubHeaders("issues", body, SECRET);
    delete headers["x-hub-signature-256"];
    const res = await fetch(url, { method: "POST", headers, body });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: "missing_signature", message: expect.stringContaining("X-Hub-Signature-256") });
  });

  it("answers 400 naming the header when X-GitHub-Event is missing", async () => {
    const body = examplePayload("issues");
    const headers = await githubHeaders("issues", body, SECRET);
    delete headers["x-github-event"];
    const res = await fetch(url, { method: "POST", headers, body });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: "missing_header", message: expect.stringContaining("X-GitHub-Event") });
  });

  it("answers 400 to signed bytes that are not JSON", async () => {
    const body = '{"action": "opened", ';
    const res = await fetch(url, { method: "POST", headers: await githubHeaders("issues", body, SECRET), body });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: "invalid_json", message: expect.stringContaining("not valid JSON") });
  });

  it("answers 415 to a form-encoded delivery, telling to configure JSON", async () => {
    const body = `payload=${encodeURIComponent(examplePayload("issues"))}`;
    const headers = { ...(await githubHeaders("issues", body, SECRET)), "content-type": "application/x-www-form-urlencoded" };
    const res = await fetch(url, { method: "POST", headers, body });
    expect(res.status).toBe(415);
    const err = (await res.json()) as Record<string, string>;
    expect(err).toEqual({ error: "unsupported_media_type", message: expect.stringContaining("application/json") });
    expect(err.message).toContain("application/x-www-form-urlencoded");
  });

  it("answers 413 to a body over the limit announced by Content-Length, and keeps serving", async () => {
    const big = JSON.stringify({ padding: "x".repeat(LIMIT) });
    const res = await fetch(url, { method: "POST", headers: await githubHeaders("issues", big, SECRET), body: big });
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ error: "payload_too_large", message: expect.stringContaining("WEBHOOK_BODY_LIMIT") });
    expect((await fetch(`${running.url}/healthz`)).status).toBe(200);
  });

  it("answers 413 to a chunked body that grows over the limit, and keeps serving", async () => {
    const headers = { "content-type": "application/json", "x-github-event": "issues", "x-github-delivery": "chunked-1", "x-hub-signature-256": await sign(SECRET, "{}") };
    const res = await postChunked(url, headers, 8 * LIMIT);
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body)).toMatchObject({ error: "payload_too_large" });
    const body = examplePayload("push");
    const after = await fetch(url, { method: "POST", headers: await githubHeaders("push", body, SECRET), body });
    expect(after.status).toBe(202);
  });

  it("answers 404 with the uniform error body on an unknown route", async () => {
    const res = await fetch(`${running.url}/api/github/hooks`, { method: "POST", body: "{}", headers: { "content-type": "application/json" } });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: "not_found", message: expect.stringContaining("/api/github/hooks") });
  });

  it("exposes the App's Probot for the event handlers", () => {
    expect(running.app.github).toBeDefined();
    expect(typeof running.app.github?.receive).toBe("function");
  });
});
