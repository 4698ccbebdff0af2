import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import nock from "nock";
import { afterEach, beforeAll, afterAll, describe, expect, it } from "vitest";
import type { ModelProvider } from "../../src/router/providers/port.js";
import { ModelCallFailed, ModelCallRefused } from "../../src/router/service.js";
import { openSqlite } from "../../src/store/sqlite.js";
import { script, scriptedPolicy, testRouter, type TestRouter } from "./helpers.js";

const call = (runId: string, content = "hello", extra: object = {}) => ({
  runId,
  role: "builder" as const,
  runType: "impl_change" as const,
  repo: "acme/app",
  messages: [{ role: "user" as const, content }],
  maxTokens: 100,
  ...extra,
});

let t: TestRouter | undefined;
afterEach(() => {
  t?.close();
  t = undefined;
  nock.cleanAll();
});
beforeAll(() => nock.disableNetConnect());
afterAll(() => nock.enableNetConnect());

/** Holds every call open until all of them have started, so they truly overlap. */
function heldOpen(p: ModelProvider, ms = 20): ModelProvider {
  return {
    name: p.name,
    complete: async (req) => {
      await delay(ms);
      return p.complete(req);
    },
    stream: p.stream.bind(p),
  };
}

describe("model router", () => {
  it("answers through the scripted provider and records one model_call entry with counts only", async () => {
    t = await testRouter({ policy: scriptedPolicy(), files: { "script.yaml": script } });
    const run = await t.newRun();
    const secret = `ghp_${"a1B2c3D4e5".repeat(4).slice(0, 36)}`;
    const r = await t.router.complete(call(run, `fix it, token ${secret}`));
    expect(r.text).toBe("scripted answer");
    expect(r.costUsd).toBeCloseTo(0.015, 10);
    const calls = await t.modelCalls(run);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({
      provider: "scripted",
      model: "demo",
      input_tokens: 10,
      output_tokens: 5,
      cost_usd: 0.015,
      outcome: "ok",
      attempt: 1,
      redactions: { "github-token": 1 },
      policy_version: t.router.policyVersion,
    });
    const ledgerText = JSON.stringify(await t.ledger.entries(run));
    expect(ledgerText).not.toContain(secret);
    expect(ledgerText).not.toContain("fix it");
    expect(await t.budgets.usage(run)).toMatchObject({ calls: 1, tokens: 15, costUsd: 0.015 });
    // A comment posted later in the run names the same secret by the same placeholder.
    expect((await t.router.redact(run, `rotated ${secret}`)).text).toBe("rotated [REDACTED:github-token:1]");
  });

  it("settles the reservation in the model_call entry's commit: another connection sees both at once", async () => {
    t = await testRouter({ policy: scriptedPolicy(), files: { "script.yaml": script } });
    const run = await t.newRun();
    await t.router.complete(call(run));
    // A second connection reads only what was committed; no flush has run.
    const other = openSqlite(path.join(t.dir, "orchestrator.db"), { synchronous: "NORMAL" });
    try {
      const rows = other.prepare("SELECT tokens, cost_micros, settled FROM router_budget_reservations WHERE run_id = ?").all(run);
      expect(rows).toEqual([{ tokens: 15, cost_micros: 15_000, settled: 1 }]);
      const entries = other.prepare("SELECT type FROM ledger_entries WHERE run_id = ? ORDER BY seq").all(run);
      expect(entries.map((e) => e.type)).toEqual(["run_created", "model_call"]);
    } finally {
      other.close();
    }
  });

  it("50 concurrent calls against a small run budget never spend past it", async () => {
    t = await testRouter({ policy: scriptedPolicy("", "max_cost_per_run_usd: 1"), files: { "script.yaml": script }, wrapProvider: (p) => heldOpen(p) });
    const run = await t.newRun();
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => t!.router.complete(call(run))));
    const ok = results.filter((r) => r.status === "fulfilled").length;
    const refused = results.filter((r) => r.status === "rejected" && r.reason instanceof ModelCallRefused && r.reason.code === "budget");
    // Each call reserves (6 prompt + 100 output tokens) × $0.001 = $0.106, so 9 fit in $1 while all are open.
    expect(ok).toBe(9);
    expect(refused).toHaveLength(41);
    const usage = await t.budgets.usage(run);
    expect(usage.costUsd).toBeLessThanOrEqual(1);
    const calls = await t.modelCalls(run);
    expect(calls.filter((c) => c.outcome === "ok")).toHaveLength(9);
    expect(calls.filter((c) => c.outcome === "refused")).toHaveLength(41);
    expect(String(calls.find((c) => c.outcome === "refused")!.error)).toMatch(/run budget exhausted/);
  });

  it("a role budget and the calls-per-run limit refuse with the reason", async () => {
    t = await testRouter({
      policy: scriptedPolicy("", "max_cost_per_role_usd: { builder: 0.3 }\n  max_calls_per_run: 4"),
      files: { "script.yaml": script },
      wrapProvider: (p) => heldOpen(p),
    });
    const run = await t.newRun();
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => t!.router.complete(call(run))));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(2);
    const reasons = results.flatMap((r) => (r.status === "rejected" ? [(r.reason as ModelCallRefused).reason] : []));
    expect(reasons[0]).toMatch(/builder budget exhausted: .* max_cost_per_role_usd\.builder \$0\.3000/);
    // Settled calls free their unused reservation: verifier still has room, until the call count runs out.
    await t.router.complete({ ...call(run), role: "verifier" });
    await t.router.complete({ ...call(run), role: "verifier" });
    await expect(t.router.complete({ ...call(run), role: "verifier" })).rejects.toThrow(/max_calls_per_run/);
  });

  it("the kill switch refuses every call, and releasing it lets calls through", async () => {
    t = await testRouter({ policy: scriptedPolicy(), files: { "script.yaml": script } });
    const run = await t.newRun();
    t.killSwitch.engage("incident 42: provider leak suspected");
    await expect(t.router.complete(call(run))).rejects.toMatchObject({ code: "kill_switch", reason: "incident 42: provider leak suspected" });
    t.killSwitch.release();
    await expect(t.router.complete(call(run))).resolves.toMatchObject({ text: "scripted answer" });
    const calls = await t.modelCalls(run);
    expect(calls.map((c) => c.outcome)).toEqual(["refused", "ok"]);
  });

  it("refuses input with a data class the repo's level disallows, before any provider is called", async () => {
    t = await testRouter({ policy: scriptedPolicy(), files: { "script.yaml": script } });
    const run = await t.newRun();
    await expect(t.router.complete({ ...call(run), dataClasses: ["customer_data"] })).rejects.toMatchObject({ code: "data_class" });
    await expect(t.router.complete({ ...call(run, "mail me at a.b@example.com"), sensitivity: "confidential" })).rejects.toThrow(/input contains pii/);
    expect(await t.budgets.usage(run)).toMatchObject({ calls: 0 });
  });

  it("refuses a prompt larger than max_tokens_per_call and a model the route does not allow", async () => {
    t = await testRouter({ policy: scriptedPolicy("", "max_tokens_per_call: 50"), files: { "script.yaml": script } });
    const run = await t.newRun();
    await expect(t.router.complete(call(run, "x".repeat(300)))).rejects.toMatchObject({ code: "too_large" });
    await expect(t.router.complete(call(run, "hi", { model: "gpt-5" }))).rejects.toThrow(/model gpt-5 is not allowed .* allowed: auto, demo/);
  });

  it("shrinks the output allowance to what max_cost_per_call_usd pays for, and refuses a prompt that alone costs more", async () => {
    const asked: number[] = [];
    t = await testRouter({
      policy: scriptedPolicy("", "max_cost_per_call_usd: 0.05"),
      files: { "script.yaml": script },
      wrapProvider: (p) => ({ name: p.name, stream: p.stream.bind(p), complete: (req) => (asked.push(req.maxTokens), p.complete(req)) }),
    });
    const run = await t.newRun();
    await t.router.complete(call(run));
    // $0.05 at $0.001 a token: 50 tokens, 6 of them the prompt.
    expect(asked).toEqual([44]);
    await expect(t.router.complete(call(run, "x".repeat(200)))).rejects.toMatchObject({ code: "budget", reason: expect.stringMatching(/prompt alone costs more than max_cost_per_call_usd/) });
  });

  it("streams text and records the call", async () => {
    t = await testRouter({ policy: scriptedPolicy(), files: { "script.yaml": script } });
    const run = await t.newRun();
    const parts: string[] = [];
    for await (const ev of t.router.stream(call(run))) if (ev.type === "text") parts.push(ev.text);
    expect(parts.length).toBeGreaterThan(1);
    expect(parts.join("")).toBe("scripted answer");
    expect((await t.modelCalls(run))[0]).toMatchObject({ outcome: "ok", stream: true });
  });

  it("a stream its consumer stops reading is settled and recorded as aborted, at the prompt and the text it got", async () => {
    t = await testRouter({ policy: scriptedPolicy(), files: { "script.yaml": script } });
    const run = await t.newRun();
    const events = t.router.stream(call(run));
    const first = await events.next();
    expect(first.value).toMatchObject({ type: "text", text: "scripted " });
    await events.return(undefined);
    const [entry] = await t.modelCalls(run);
    // Prompt "hello" (5 chars + 4) → 6 tokens; "scripted " (9 chars) → 3 tokens; $0.001 a token.
    expect(entry).toMatchObject({ outcome: "aborted", error: "consumer_stopped", stream: true, input_tokens: 6, output_tokens: 3, cost_usd: 0.009 });
    expect(await t.budgets.usage(run)).toMatchObject({ calls: 1, tokens: 9, costUsd: 0.009 });
  });

  it("a caller's abort mid-stream ends the call as aborted, without a retry", async () => {
    t = await testRouter({ policy: scriptedPolicy(), files: { "script.yaml": script } });
    const run = await t.newRun();
    const abort = new AbortController();
    const events = t.router.stream(call(run, "hello", { signal: abort.signal }));
    expect((await events.next()).value).toMatchObject({ type: "text" });
    abort.abort();
    // The scripted provider ignores the signal; a real one stops reading, which ends its stream with an error.
    await expect(events.throw(new DOMException("aborted", "AbortError"))).rejects.toBeInstanceOf(ModelCallFailed);
    expect(await t.modelCalls(run)).toMatchObject([{ outcome: "aborted", error: "client_closed", attempt: 1 }]);
    expect(await t.budgets.usage(run)).toMatchObject({ calls: 1, tokens: 9 });
  });
});

describe("retries and fallbacks", () => {
  const policy = `version: 1
providers:
  primary: { kind: openai_compatible, base_url: "https://primary.example.com/v1", api_key: { env: PRIMARY_KEY } }
  backup: { kind: anthropic, api_key: { env: BACKUP_KEY } }
models:
  fast: { provider: primary, id: gpt-4o-mini, price_per_1m: { input: 0.15, output: 0.6 } }
  steady: { provider: backup, id: claude-sonnet-4-20250514, price_per_1m: { input: 3, output: 15 } }
sensitivity:
  default: internal
  levels:
    internal: { approved_providers: [primary, backup] }
rules:
  - { model: fast, fallbacks: [steady] }
retry: { max_attempts: 3, base_delay_ms: 100, max_delay_ms: 2000 }
`;
  const ok = { id: "chatcmpl-1", object: "chat.completion", created: 1, model: "gpt-4o-mini", choices: [{ index: 0, message: { role: "assistant", content: "done" }, finish_reason: "stop" }], usage: { prompt_tokens: 7, completion_tokens: 1, total_tokens: 8 } };
  const rateLimited = { error: { message: "Rate limit reached for gpt-4o-mini", type: "requests", param: null, code: "rate_limit_exceeded" } };

  it("retries 429 and 5xx with backoff, honouring Retry-After, then succeeds", async () => {
    t = await testRouter({ policy });
    const run = await t.newRun();
    nock("https://primary.example.com")
      .post("/v1/chat/completions").reply(429, rateLimited, { "retry-after": "1" })
      .post("/v1/chat/completions").reply(503, { error: { message: "The server is overloaded", type: "server_error" } })
      .post("/v1/chat/completions").reply(200, ok);
    const r = await t.router.complete(call(run));
    expect(r).toMatchObject({ text: "done", model: "fast", provider: "primary" });
    // Retry-After 1 s wins over the jittered 50 ms; the second delay is jittered backoff (0.5 × 200 ms).
    expect(t.sleeps).toEqual([1000, 100]);
    const calls = await t.modelCalls(run);
    expect(calls.map((c) => [c.attempt, c.outcome, c.error ?? ""])).toEqual([
      [1, "throttled", "rate_limit_exceeded (HTTP 429)"],
      [2, "error", "server_error (HTTP 503)"],
      [3, "ok", ""],
    ]);
  });

  it("falls back in policy order when a model keeps failing, and says why when all fail", async () => {
    t = await testRouter({ policy });
    const run = await t.newRun();
    nock("https://primary.example.com").post("/v1/chat/completions").times(3).reply(500, { error: { message: "boom", type: "server_error" } });
    nock("https://api.anthropic.com")
      .post("/v1/messages")
      .reply(200, { id: "msg_1", type: "message", role: "assistant", model: "claude-sonnet-4-20250514", content: [{ type: "text", text: "from backup" }], stop_reason: "end_turn", stop_sequence: null, usage: { input_tokens: 9, output_tokens: 3 } });
    const r = await t.router.complete(call(run));
    expect(r).toMatchObject({ text: "from backup", model: "steady", provider: "backup" });
    expect((await t.modelCalls(run)).map((c) => `${c.model}:${c.outcome}`)).toEqual(["fast:error", "fast:error", "fast:error", "steady:ok"]);

    nock("https://primary.example.com").post("/v1/chat/completions").reply(401, { error: { message: "Incorrect API key provided", type: "invalid_request_error", code: "invalid_api_key" } });
    nock("https://api.anthropic.com").post("/v1/messages").reply(400, { type: "error", error: { type: "invalid_request_error", message: "max_tokens: too large" } });
    const err = await t.router.complete(call(run)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelCallFailed);
    expect((err as ModelCallFailed).attempts).toEqual([
      "fast attempt 1: primary: HTTP 401: Incorrect API key provided",
      "steady attempt 1: backup: HTTP 400: max_tokens: too large",
    ]);
  });

  it("a paid call whose record cannot be written fails with that error: no retry, no fallback, no second bill", async () => {
    let failures = 1;
    const recorded: string[] = [];
    t = await testRouter({
      policy,
      deps: {
        recorder: {
          async record(runId, c) {
            recorded.push(`${c.model}:${c.outcome}`);
            if (failures-- > 0) throw new Error("database is locked");
          },
        },
      },
    });
    const run = await t.newRun();
    const primary = nock("https://primary.example.com").post("/v1/chat/completions").reply(200, ok);
    const backup = nock("https://api.anthropic.com").post("/v1/messages").reply(200, {});
    await expect(t.router.complete(call(run))).rejects.toThrow("database is locked");
    expect(primary.isDone()).toBe(true);
    expect(backup.isDone()).toBe(false);
    expect(recorded).toEqual(["fast:ok"]);
  });

  it("a Retry-After longer than the policy's max delay moves straight to the fallback", async () => {
    t = await testRouter({ policy });
    const run = await t.newRun();
    nock("https://primary.example.com").post("/v1/chat/completions").reply(429, rateLimited, { "retry-after": "30" });
    nock("https://api.anthropic.com").post("/v1/messages").reply(200, { type: "message", content: [{ type: "text", text: "ok" }], stop_reason: "end_turn", usage: { input_tokens: 1, output_tokens: 1 } });
    await expect(t.router.complete(call(run))).resolves.toMatchObject({ model: "steady" });
    expect(t.sleeps).toEqual([]);
  });

  it("sends the provider only redacted text", async () => {
    t = await testRouter({ policy });
    const run = await t.newRun();
    const key = `AKIA${"QWERTYUIOPASDFGH"}`;
    let sent = "";
    nock("https://primary.example.com")
      .post("/v1/chat/completions", (body: { messages: Array<{ content: string }> }) => {
        sent = JSON.stringify(body);
        return true;
      })
      .reply(200, ok);
    await t.router.complete(call(run, `deploy with ${key} please`));
    expect(sent).toContain("deploy with [REDACTED:aws-access-key-id:1] please");
    expect(sent).not.toContain(key);
  });

  it("a provider whose credential is missing fails closed with the reason, and the fallback is used", async () => {
    t = await testRouter({ policy, credentials: (ref) => ("env" in ref && ref.env === "BACKUP_KEY" ? "k" : undefined) });
    const run = await t.newRun();
    nock("https://api.anthropic.com").post("/v1/messages").reply(200, { type: "message", content: [{ type: "text", text: "ok" }], stop_reason: "end_turn", usage: { input_tokens: 1, output_tokens: 1 } });
    await expect(t.router.complete(call(run))).resolves.toMatchObject({ model: "steady" });
    expect((await t.modelCalls(run))[0]).toMatchObject({ model: "fast", outcome: "error", error: "provider_unavailable" });
  });
});
