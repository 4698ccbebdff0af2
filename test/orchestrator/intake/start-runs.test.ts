// The intake starts runs on the engine, and repairs a failure between storing a request and starting its run.
import nock from "nock";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config.js";
import { createIntake, type Intake } from "../../../src/intake.js";
import type { WorkflowEngine } from "../../../src/orchestrator/engine/port.js";
import type { RunRequest } from "../../../src/orchestrator/run-request.js";
import { fixtures } from "../../helpers/fixtures.js";
import { openEngine, waitFor, type TestEngine } from "../engine/harness.js";
import { ScriptedActivities } from "../engine/scripted.js";

const GITLAB = "https://gitlab.example.com";

function issueLabeled(): string {
  const p = JSON.parse(fixtures("gitlab").find((f) => f.file === "issue.open.json")!.body);
  p.object_attributes.action = "update";
  p.labels = [{ id: 1, title: "orchestrator:impl" }];
  p.changes.labels = { previous: [], current: [{ id: 1, title: "orchestrator:impl" }] };
  return JSON.stringify(p);
}

/** The real engine, except that its first start fails: the window between storing a request and starting its run. */
function failingOnce(engine: WorkflowEngine, starts: RunRequest[]): WorkflowEngine {
  return {
    backend: engine.backend,
    async start(request) {
      starts.push(request);
      if (starts.length === 1) throw new Error("engine unavailable (simulated)");
      return engine.start(request);
    },
    decide: (runId, d) => engine.decide(runId, d),
    cancel: (runId, by) => engine.cancel(runId, by),
    status: (runId) => engine.status(runId),
    stop: (graceMs) => engine.stop(graceMs),
  };
}

describe("intake → engine", () => {
  let t: TestEngine;
  let intake: Intake;
  const starts: RunRequest[] = [];

  beforeAll(() => {
    nock.disableNetConnect();
    t = openEngine(new ScriptedActivities().registry());
    const config = loadConfig({ DATA_DIR: t.dir, GITLAB_TOKEN: "glpat-test", GITLAB_URL: GITLAB, INTAKE_RETRY_MS: "10", LOG_LEVEL: "silent" });
    intake = createIntake(config, t.db, undefined, pino({ level: "silent" }), { engine: failingOnce(t.engine, starts), ledger: t.ledger });
  });
  afterAll(async () => {
    await intake.close();
    await t.close();
    nock.cleanAll();
    nock.enableNetConnect();
  });

  it("an engine failure after the request was stored is repaired by the delivery's retry: one request, one run", async () => {
    const config = nock(GITLAB).get("/api/v4/projects/1/repository/files/.gitlab%2Forchestrator.yml/raw").query(true).times(2).reply(404, { message: "404 File Not Found" });
    const rawBody = issueLabeled();
    const ack = await intake.sink.accept({ source: "gitlab", id: "flaky-1", name: "Issue Hook", headers: {}, rawBody: Buffer.from(rawBody), payload: JSON.parse(rawBody), receivedAt: new Date() });
    expect(ack.status).toBe("accepted");
    const row = await waitFor(() => {
      const r = intake.queue.get("gitlab", "flaky-1");
      return r && ["done", "dead"].includes(r.status) ? r : undefined;
    }, "the delivery to be processed");
    expect(config.isDone()).toBe(true);
    expect(row).toMatchObject({ status: "done", attempts: 2, outcome: expect.stringMatching(/^run request rreq_\w+ existing \(impl_change/) });
    // Both attempts asked for the same run (same idempotency key); the second started it.
    expect(starts).toHaveLength(2);
    expect(starts[1]!.idempotency_key).toBe(starts[0]!.idempotency_key);
    expect(intake.runRequests.all().filter((r) => r.request.event_id === "gitlab:flaky-1")).toHaveLength(1);
    const { runs } = await t.ledger.listRuns({ subject: "gitlab:gitlabhq/gitlab-test#issue/23" });
    expect(runs).toHaveLength(1);
    expect((await t.ledger.run(runs[0]!.run_id))!.inputs).toMatchObject({ idempotency_key: starts[0]!.idempotency_key, trigger: "label:orchestrator:impl" });
  });
});
