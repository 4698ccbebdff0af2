import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newRunId } from "../../src/orchestrator/ledger/port.js";
import { sqliteLedger } from "../../src/orchestrator/ledger/sqlite.js";
import { GatewayTokens } from "../../src/router/gateway-token.js";
import { openSqlite, type DatabaseSync } from "../../src/store/sqlite.js";
import { startApp, type RunningApp } from "../helpers/app.js";
import { script, scriptedPolicy, seedRun } from "./helpers.js";

let app: RunningApp;
let db: DatabaseSync;
let policyDir: string;
const claims = (runId: string) => ({ run_id: runId, role: "builder" as const, run_type: "impl_change" as const, repo: "acme/app" });

const newRun = () => seedRun(sqliteLedger({ db }));

const post = (url: string, token: string | undefined, body: unknown) =>
  fetch(url, { method: "POST", headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });

beforeAll(async () => {
  policyDir = mkdtempSync(path.join(tmpdir(), "gateway-policy-"));
  writeFileSync(path.join(policyDir, "script.yaml"), script);
  writeFileSync(path.join(policyDir, "routing-policy.yaml"), scriptedPolicy("", "max_cost_per_run_usd: 0.25"));
  app = await startApp({ ROUTING_POLICY_PATH: path.join(policyDir, "routing-policy.yaml") });
  db = openSqlite(path.join(app.dataDir, "orchestrator.db"), { synchronous: "NORMAL" });
});
afterAll(async () => {
  db.close();
  await app.close();
  rmSync(policyDir, { recursive: true, force: true });
});

describe("model gateway", () => {
  it("lists the models the token's route allows", async () => {
    const token = await app.app.models.tokens.mint(claims(await newRun()));
    const res = await fetch(`${app.url}/v1/models`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { object: string; data: Array<{ id: string }> };
    expect(body.object).toBe("list");
    expect(body.data.map((m) => m.id)).toEqual(["auto", "demo"]);
  });

  it("answers chat completions in OpenAI's shape, redacting and recording the call", async () => {
    const runId = await newRun();
    const token = await app.app.models.tokens.mint(claims(runId));
    const res = await post(`${app.url}/v1/chat/completions`, token, {
      model: "auto",
      messages: [{ role: "developer", content: "be brief" }, { role: "user", content: [{ type: "text", text: `use key AKIA${"ZXCVBNMASDFGHJKL"}` }] }],
      max_tokens: 50,
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      object: "chat.completion",
      model: "demo",
      choices: [{ index: 0, message: { role: "assistant", content: "scripted answer" }, finish_reason: "stop" }],
      usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
    });
    expect(String(body.id)).toMatch(/^chatcmpl-/);
    const calls = (await sqliteLedger({ db }).entries(runId)).filter((e) => e.type === "model_call");
    expect(calls).toHaveLength(1);
    expect(calls[0]!.payload).toMatchObject({ via: "gateway", outcome: "ok", redactions: { "aws-access-key-id": 1 }, role: "builder" });
  });

  it("streams server-sent events ending in [DONE], with usage when asked", async () => {
    const runId = await newRun();
    const token = await app.app.models.tokens.mint(claims(runId));
    const res = await post(`${app.url}/runs/${runId}/v1/chat/completions`, token, {
      model: "demo",
      max_tokens: 50,
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: "user", content: "hello" }],
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const raw = await res.text();
    const events = raw.split("\n\n").filter(Boolean);
    expect(events.every((e) => e.startsWith("data: "))).toBe(true);
    expect(events.at(-1)).toBe("data: [DONE]");
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.slice(6)) as { object: string; choices: Array<{ delta: { content?: string; role?: string }; finish_reason: string | null }>; usage?: object });
    expect(chunks.every((c) => c.object === "chat.completion.chunk")).toBe(true);
    expect(chunks[0]!.choices[0]!.delta.role).toBe("assistant");
    expect(chunks.flatMap((c) => c.choices.map((x) => x.delta.content ?? "")).join("")).toBe("scripted answer");
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe("stop");
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 } });
  });

  it("rejects a missing, forged or expired token, and a token for another run", async () => {
    const runId = await newRun();
    const msg = { model: "auto", messages: [{ role: "user", content: "hi" }] };
    const noToken = await post(`${app.url}/v1/chat/completions`, undefined, msg);
    expect(noToken.status).toBe(401);

    const forged = await new GatewayTokens(new Uint8Array(32).fill(7), 60).mint(claims(runId));
    const f = await post(`${app.url}/v1/chat/completions`, forged, msg);
    expect(f.status).toBe(401);
    expect(await f.json()).toMatchObject({ error: "unauthorized", message: "token signature is not ours" });

    const expired = await app.app.models.tokens.mint(claims(runId), -60);
    const e = await post(`${app.url}/v1/chat/completions`, expired, msg);
    expect(e.status).toBe(401);
    expect(await e.json()).toMatchObject({ error: "unauthorized", message: expect.stringMatching(/expired/) });

    const other = await newRun();
    const token = await app.app.models.tokens.mint(claims(runId));
    const o = await post(`${app.url}/runs/${other}/v1/chat/completions`, token, msg);
    expect(o.status).toBe(403);
    expect(await o.json()).toMatchObject({ error: "wrong_run" });
    const m = await fetch(`${app.url}/runs/${other}/v1/models`, { headers: { authorization: `Bearer ${token}` } });
    expect(m.status).toBe(403);
    // Nothing was recorded for the other run.
    expect((await sqliteLedger({ db }).entries(other)).filter((x) => x.type === "model_call")).toHaveLength(0);
  });

  it("answers 400 for a malformed request and 403 with the reason when the budget is spent", async () => {
    const runId = await newRun();
    const token = await app.app.models.tokens.mint(claims(runId));
    const bad = await post(`${app.url}/v1/chat/completions`, token, { model: "auto", messages: [] });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: "invalid_request", message: expect.stringMatching(/at least one message/) });
    const msg = { model: "auto", max_tokens: 100, messages: [{ role: "user", content: "hi" }] };
    // $0.25 per run; each call reserves $0.105 and settles at $0.015, so the 11th no longer fits.
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let i = 0; i < 15 && (last?.status ?? 200) === 200; i++) {
      last = await post(`${app.url}/v1/chat/completions`, token, msg);
      statuses.push(last.status);
    }
    expect(statuses).toEqual([...Array(10).fill(200), 403]);
    expect(await last!.json()).toMatchObject({ error: "refused_budget", message: expect.stringMatching(/run budget exhausted: \$0\.1500 spent or reserved/) });
  });

  it("the kill switch refuses gateway calls", async () => {
    const token = await app.app.models.tokens.mint(claims(await newRun()));
    app.app.models.killSwitch.engage("maintenance");
    try {
      const r = await post(`${app.url}/v1/chat/completions`, token, { model: "auto", messages: [{ role: "user", content: "hi" }] });
      expect(r.status).toBe(403);
      expect(await r.json()).toMatchObject({ error: "refused_kill_switch", message: "maintenance" });
      // A streamed request is refused the same way, before any event is sent.
      const s = await post(`${app.url}/v1/chat/completions`, token, { model: "auto", stream: true, messages: [{ role: "user", content: "hi" }] });
      expect(s.status).toBe(403);
      expect(s.headers.get("content-type")).toMatch(/application\/json/);
    } finally {
      app.app.models.killSwitch.release();
    }
  });
});

describe("model gateway with an invalid policy", () => {
  it("starts, reports not ready with the policy error, and refuses calls", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "gateway-bad-"));
    writeFileSync(path.join(dir, "routing-policy.yaml"), "version: 1\nproviders: {}\n");
    const bad = await startApp({ ROUTING_POLICY_PATH: path.join(dir, "routing-policy.yaml"), MODEL_KILL_SWITCH: "false" });
    try {
      const ready = await fetch(`${bad.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { checks: Record<string, string> }).checks.routing_policy).toMatch(/routing-policy\.yaml:\d+: models is required/);
      const token = await bad.app.models.tokens.mint(claims("run_01JF3Q0Z8X9K2M4N6P8R0T2V4W"));
      const r = await post(`${bad.url}/v1/chat/completions`, token, { model: "auto", messages: [{ role: "user", content: "hi" }] });
      expect(r.status).toBe(403);
      expect(await r.json()).toMatchObject({ error: "refused_no_route" });
    } finally {
      await bad.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("model gateway in front of a real provider API", () => {
  it("relays a completion from an OpenAI-compatible provider (key from the env var the policy names) without aborting it", async () => {
    const { default: nock } = await import("nock");
    const dir = mkdtempSync(path.join(tmpdir(), "gateway-openai-"));
    writeFileSync(
      path.join(dir, "routing-policy.yaml"),
      `version: 1
providers: { openai: { kind: openai_compatible, base_url: "https://api.openai.com/v1", api_key: { env: GATEWAY_TEST_OPENAI_KEY } } }
models: { gpt: { provider: openai, id: gpt-4o-mini, price_per_1m: { input: 0.15, output: 0.6 } } }
sensitivity: { default: internal, levels: { internal: { approved_providers: [openai] } } }
rules: [{ model: gpt }]
`,
    );
    process.env.GATEWAY_TEST_OPENAI_KEY = "sk-test-gateway";
    nock.disableNetConnect();
    nock.enableNetConnect("127.0.0.1");
    const scope = nock("https://api.openai.com", { reqheaders: { authorization: "Bearer sk-test-gateway" } })
      .post("/v1/chat/completions")
      .delay(50)
      .reply(200, { id: "chatcmpl-1", object: "chat.completion", created: 1, model: "gpt-4o-mini", choices: [{ index: 0, message: { role: "assistant", content: "from openai" }, finish_reason: "stop" }], usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } });
    const gw = await startApp({ ROUTING_POLICY_PATH: path.join(dir, "routing-policy.yaml") });
    const gwDb = openSqlite(path.join(gw.dataDir, "orchestrator.db"), { synchronous: "NORMAL" });
    try {
      const runId = newRunId();
      await sqliteLedger({ db: gwDb }).append([
        { runId, expectedSeq: 0, entries: [{ type: "run_created", payload: { run_type: "impl_change", source: { event_id: "t", origin: "api" }, repo_scope: "acme/app", policy_version: "test" } }] },
      ]);
      const token = await gw.app.models.tokens.mint(claims(runId));
      const r = await post(`${gw.url}/v1/chat/completions`, token, { model: "gpt", max_tokens: 20, messages: [{ role: "user", content: "hi" }] });
      expect(r.status).toBe(200);
      expect(await r.json()).toMatchObject({ model: "gpt", choices: [{ message: { content: "from openai" } }] });
      expect(scope.isDone()).toBe(true);
    } finally {
      gwDb.close();
      await gw.close();
      nock.cleanAll();
      nock.enableNetConnect();
      delete process.env.GATEWAY_TEST_OPENAI_KEY;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
