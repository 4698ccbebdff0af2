import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type RunningApp } from "../helpers/app.js";

describe("HTTP server with nothing configured", () => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startApp();
  });
  afterAll(async () => running.close());

  it("answers /healthz", async () => {
    const res = await fetch(`${running.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
  });

  it("is ready when the data dir is writable", async () => {
    const res = await fetch(`${running.url}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "ready", checks: { data_dir: "ok" } });
  });

  it("serves Prometheus metrics with the request histogram", async () => {
    await fetch(`${running.url}/healthz`);
    const text = await (await fetch(`${running.url}/metrics`)).text();
    expect(text).toContain("process_cpu_user_seconds_total");
    expect(text).toMatch(/http_request_duration_seconds_count\{method="GET",route="\/healthz",status="200"\} \d+/);
  });

  it.each(["/api/github/webhooks", "/api/gitlab/webhooks", "/api/jira/webhooks"])("keeps %s off", async (route) => {
    const res = await fetch(`${running.url}${route}`, { method: "POST", body: "{}", headers: { "content-type": "application/json" } });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: "not_found" });
  });
});
