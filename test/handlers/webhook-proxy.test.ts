import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type RunningApp } from "../helpers/app.js";
import { appPrivateKey, examplePayload, githubHeaders } from "../helpers/github.js";
import { captureLogs, type CapturedLogs } from "../helpers/logs.js";

const SECRET = "proxy-secret";

/** A local stand-in for a smee.io channel: a server-sent-events stream that sends what it is given. */
function channel() {
  const clients = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
    res.write("event: ready\ndata: {}\n\n");
    clients.add(res);
    req.on("close", () => clients.delete(res));
  });
  return {
    server,
    clients,
    send(message: unknown) {
      for (const c of clients) c.write(`data: ${JSON.stringify(message)}\n\n`);
    },
  };
}

async function until<T>(what: string, fn: () => T | undefined): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`gave up waiting for ${what}`);
}

describe("WEBHOOK_PROXY_URL relay", () => {
  const smee = channel();
  let running: RunningApp;
  let logs: CapturedLogs;
  beforeAll(async () => {
    await new Promise<void>((r) => smee.server.listen(0, "127.0.0.1", r));
    const source = `http://127.0.0.1:${(smee.server.address() as AddressInfo).port}/channel-abc`;
    logs = captureLogs();
    running = await startApp(
      { APP_ID: "1", PRIVATE_KEY: appPrivateKey(), WEBHOOK_SECRET: SECRET, WEBHOOK_PROXY_URL: source, LOG_LEVEL: "info" },
      logs.stream,
    );
  });
  afterAll(async () => {
    await running.close();
    for (const c of smee.clients) c.end();
    await new Promise((r) => smee.server.close(r));
  });

  it("connects to the channel and targets our own GitHub webhook route", () => {
    const line = logs.lines().find((l) => l["msg"] === "relaying webhook deliveries from the proxy channel");
    expect(line).toMatchObject({ target: `${running.url}/api/github/webhooks` });
    expect(smee.clients.size).toBe(1);
  });

  it("posts a relayed delivery to the webhook route, where its signature is checked", async () => {
    const body = examplePayload("pull_request_review");
    const headers = await githubHeaders("pull_request_review", body, SECRET, "relayed-1");
    const forged = await githubHeaders("pull_request_review", body, "not-the-secret", "relayed-forged");
    // smee.io sends the original headers as fields next to the parsed body.
    smee.send({ ...headers, body: JSON.parse(body), query: {}, timestamp: Date.now() });
    smee.send({ ...forged, body: JSON.parse(body), query: {}, timestamp: Date.now() });
    const ok = await until("relayed delivery", () => logs.lines().find((l) => l["msg"] === "webhook delivery" && l["delivery_id"] === "relayed-1"));
    expect(ok).toMatchObject({ source: "github", event: "pull_request_review", ack: expect.stringMatching(/^(accepted|ignored)$/) });
    const refused = await until("forged delivery", () => logs.lines().find((l) => l["req_id"] === "relayed-forged" && l["status"] === 401));
    expect(refused).toMatchObject({ error: "bad_signature" });
  });
});
