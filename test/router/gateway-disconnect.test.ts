// The model gateway when its client hangs up mid-answer: the provider call stops, the attempt is recorded and settled, the server goes on.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sqliteLedger } from "../../src/orchestrator/ledger/sqlite.js";
import { toMicros } from "../../src/router/budgets/port.js";
import { openSqlite, type DatabaseSync } from "../../src/store/sqlite.js";
import { startApp, type RunningApp } from "../helpers/app.js";
import { seedRun } from "./helpers.js";

/** A promise and the function that resolves it. */
function signal() {
  let fire!: () => void;
  const fired = new Promise<void>((resolve) => (fire = resolve));
  return { fire, fired };
}

/**
 * An OpenAI-compatible provider on 127.0.0.1: a streamed request gets two content chunks, then the
 * stream stays open (a model still generating) until the caller goes away; a plain one is answered,
 * unless its prompt says "think long": that one gets no answer until the caller goes away.
 */
function upstream() {
  const streamAborted = signal();
  const slowReceived = signal();
  const slowAborted = signal();
  const server = http.createServer((req, res) => {
    let raw = "";
    req.on("data", (c: Buffer) => (raw += c.toString()));
    req.on("end", () => {
      const body = JSON.parse(raw) as { model: string; stream?: boolean; messages: Array<{ content: string }> };
      if (body.messages.at(-1)!.content.includes("think long")) {
        res.on("close", () => slowAborted.fire());
        slowReceived.fire();
        return;
      }
      if (!body.stream) {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ id: "chatcmpl-2", object: "chat.completion", created: 1, model: body.model, choices: [{ index: 0, message: { role: "assistant", content: "still here" }, finish_reason: "stop" }], usage: { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 } }));
        return;
      }
      res.writeHead(200, { "content-type": "text/event-stream" });
      for (const text of ["Step one. ", "Step two. "]) {
        res.write(`data: ${JSON.stringify({ id: "chatcmpl-1", object: "chat.completion.chunk", created: 1, model: body.model, choices: [{ index: 0, delta: { content: text }, finish_reason: null }] })}\n\n`);
      }
      res.on("close", () => {
        if (!res.writableFinished) streamAborted.fire();
      });
    });
  });
  return { server, streamAborted: streamAborted.fired, slowReceived: slowReceived.fired, slowAborted: slowAborted.fired };
}

let app: RunningApp;
let db: DatabaseSync;
let dir: string;
let up: ReturnType<typeof upstream>;

beforeAll(async () => {
  up = upstream();
  await new Promise<void>((resolve) => up.server.listen(0, "127.0.0.1", resolve));
  const port = (up.server.address() as AddressInfo).port;
  dir = mkdtempSync(path.join(tmpdir(), "gateway-disconnect-"));
  // One call's reservation (~$2.01 for 2,000 output tokens) fits the run's $3 only while no other is held.
  writeFileSync(
    path.join(dir, "routing-policy.yaml"),
    `version: 1
providers: { local: { kind: openai_compatible, base_url: "http://127.0.0.1:${port}/v1" } }
models: { llm: { provider: local, id: local-llm, price_per_1m: { input: 1000, output: 1000 } } }
sensitivity: { default: internal, levels: { internal: { approved_providers: [local] } } }
rules: [{ model: llm }]
limits: { max_cost_per_call_usd: 2.5, max_cost_per_run_usd: 3 }
retry: { max_attempts: 3, base_delay_ms: 1, max_delay_ms: 2 }
`,
  );
  app = await startApp({ ROUTING_POLICY_PATH: path.join(dir, "routing-policy.yaml") });
  db = openSqlite(path.join(app.dataDir, "orchestrator.db"), { synchronous: "NORMAL" });
});
afterAll(async () => {
  db.close();
  await app.close();
  up.server.closeAllConnections();
  await new Promise((resolve) => up.server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

/** Streams a completion and drops the connection as soon as the first content arrives. */
function streamAndHangUp(url: string, token: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ model: "auto", max_tokens: 2000, stream: true, messages: [{ role: "user", content: "Plan the change." }] });
    const req = http.request(url, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${token}` } }, (res) => {
      let seen = "";
      res.on("data", (c: Buffer) => {
        seen += c.toString();
        if (seen.includes("Step one.")) {
          req.destroy();
          resolve(seen);
        }
      });
      res.on("end", () => reject(new Error(`the stream ended before any content: ${seen}`)));
    });
    req.on("error", (err) => reject(err));
    req.end(body);
  });
}

async function newRunAndToken() {
  const ledger = sqliteLedger({ db });
  const runId = await seedRun(ledger);
  const token = await app.app.models.tokens.mint({ run_id: runId, role: "builder", run_type: "impl_change", repo: "acme/app" });
  const modelCalls = async () => (await ledger.entries(runId)).filter((e) => e.type === "model_call").map((e) => e.payload as Record<string, unknown>);
  return { runId, token, modelCalls };
}

describe("model gateway, client gone mid-stream", () => {
  it("stops the provider call, records and settles the attempt as aborted, frees the reservation and keeps serving", async () => {
    const { runId, token, modelCalls } = await newRunAndToken();

    const seen = await streamAndHangUp(`${app.url}/v1/chat/completions`, token);
    expect(seen).toMatch(/^data: /);
    // The gateway passes the hang-up on: the provider's request is cancelled, not left generating.
    await up.streamAborted;

    await expect.poll(async () => (await modelCalls()).length, { timeout: 5_000, interval: 20 }).toBe(1);
    const [aborted] = await modelCalls();
    // Not retried and no fallback: nobody is reading any more. Billed as what was used so far, estimated.
    expect(aborted).toMatchObject({ outcome: "aborted", error: "client_closed", via: "gateway", stream: true, attempt: 1, model: "llm" });
    expect(aborted!.input_tokens).toBeGreaterThan(0);
    expect(aborted!.output_tokens).toBeGreaterThan(0);
    expect(aborted!.cost_usd).toBeCloseTo(((aborted!.input_tokens as number) + (aborted!.output_tokens as number)) / 1000, 9);

    // Its reservation is settled to that use, in the same commit as the entry: nothing stays held at the estimate.
    const rows = db.prepare("SELECT tokens, cost_micros, settled FROM router_budget_reservations WHERE run_id = ?").all(runId);
    expect(rows).toEqual([{ tokens: (aborted!.input_tokens as number) + (aborted!.output_tokens as number), cost_micros: toMicros(aborted!.cost_usd as number), settled: 1 }]);

    // The next call needs a reservation that only fits if the first one was released, and gets its answer.
    const next = await fetch(`${app.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ model: "auto", max_tokens: 2000, messages: [{ role: "user", content: "Still there?" }] }),
    });
    expect(next.status).toBe(200);
    expect(await next.json()).toMatchObject({ choices: [{ message: { content: "still here" } }], usage: { prompt_tokens: 9, completion_tokens: 3 } });
    expect((await modelCalls()).map((c) => c.outcome)).toEqual(["aborted", "ok"]);
  });

  it("a client that hangs up while waiting for a whole answer stops the provider call too; the prompt is billed", async () => {
    const { runId, token, modelCalls } = await newRunAndToken();
    const req = http.request(`${app.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${token}` } });
    const failed = new Promise<Error>((resolve) => req.on("error", resolve));
    req.end(JSON.stringify({ model: "auto", max_tokens: 2000, messages: [{ role: "user", content: "think long about it" }] }));
    await up.slowReceived;
    req.destroy();
    expect(await failed).toBeInstanceOf(Error);
    await up.slowAborted;

    await expect.poll(async () => (await modelCalls()).length, { timeout: 5_000, interval: 20 }).toBe(1);
    const [aborted] = await modelCalls();
    expect(aborted).toMatchObject({ outcome: "aborted", error: "client_closed", stream: false, attempt: 1, output_tokens: 0 });
    expect(aborted!.input_tokens).toBeGreaterThan(0);
    const rows = db.prepare("SELECT tokens, cost_micros, settled FROM router_budget_reservations WHERE run_id = ?").all(runId);
    expect(rows).toEqual([{ tokens: aborted!.input_tokens, cost_micros: toMicros(aborted!.cost_usd as number), settled: 1 }]);
  });
});
