// RunControl over the embedded engine and SQLite ledger: which run each command picks, and what it answers when nothing happens.
import { afterEach, describe, expect, it } from "vitest";
import type { EventSubject } from "../../src/events/schema.js";
import { SqliteRunRequests } from "../../src/orchestrator/intake/run-request-store.js";
import { engineRunControl } from "../../src/orchestrator/run-control-engine.js";
import type { RunControlTarget } from "../../src/orchestrator/run-control.js";
import { openEngine, request, waitForStatus, type TestEngine } from "./engine/harness.js";
import { ScriptedActivities } from "./engine/scripted.js";

let open: TestEngine[] = [];
afterEach(async () => {
  for (const t of open) await t.close();
  open = [];
});

function setup(scripts = {}) {
  // Agent steps back off 30 s before a retry in production; these tests keep the retry, not the wait.
  const t = openEngine(new ScriptedActivities(scripts).registry(), { retryDelayMs: () => 0 });
  open.push(t);
  const requests = new SqliteRunRequests(t.db);
  const control = engineRunControl({ engine: t.engine, ledger: t.ledger, requests });
  return { ...t, requests, control };
}

let eventSeq = 0;
function target(subject: Partial<EventSubject> = {}): RunControlTarget {
  const r = request("impl_change");
  return { source: "github", repo: r.repo, subject: { ...r.subject, ...subject }, actor: { login: "alice", id: "9", name: null, is_bot: false, permission: "write" }, eventId: `github:cmd-${++eventSeq}` };
}

describe("engineRunControl", () => {
  it("says why nothing happened: no subject, no run, no run waiting, nothing to cancel or retry", async () => {
    const { control, engine } = setup();
    expect(await control.apply({ name: "cancel", access: "write" }, target({ type: "commit", number: null, head_sha: "abc" }))).toMatch(/not on one, so nothing was changed/);
    expect(await control.apply({ name: "approve", access: "write", item: "plan" }, target({ number: 99 }))).toBe("No run has been started for this PR yet, so there is nothing to approve.");
    const { runId } = await engine.start(request("impl_change", "default", { stop_after: "plan" }));
    await waitForStatus(engine, runId, ["succeeded"]);
    expect(await control.apply({ name: "approve", access: "write", item: "plan" }, target())).toBe(
      `Nothing to approve: no run on this PR is waiting for approval (the latest, \`${runId}\`, is succeeded).`,
    );
    expect(await control.apply({ name: "cancel", access: "write" }, target())).toMatch(/^Nothing to cancel: .* ended succeeded/);
    expect(await control.apply({ name: "retry", access: "write" }, target())).toMatch(/^Nothing to retry: .* is succeeded/);
  });

  it("reject <item> fails the approval step of the latest run awaiting approval", async () => {
    const { control, engine, ledger } = setup();
    const { runId } = await engine.start(request("impl_change"));
    await waitForStatus(engine, runId, ["awaiting_human"]);
    const reply = await control.apply({ name: "reject", access: "write", item: "risk", reason: "touches billing" }, target());
    expect(reply).toMatch(new RegExp(`^@alice rejected \\*\\*risk\\*\\* on run \`${runId}\`: touches billing\\. The approval step failed`));
    expect(await waitForStatus(engine, runId, ["failed", "succeeded"])).toBe("failed");
    const decision = (await ledger.entries(runId)).find((e) => e.type === "decision")!;
    expect(decision.payload).toMatchObject({ decision: "rejected", item: "risk", by: "alice", via: "slash_command", reason: "touches billing" });
  });

  it("retry starts the failed run's request again once per command event, recorded as a run request", async () => {
    const { control, engine, requests } = setup({ boom: { plan: [{ fail: "Agent.Crashed" }, { fail: "Agent.Crashed" }], report_failure: ["ok"] } });
    const first = await engine.start(request("impl_change", "boom", { stop_after: "plan" }));
    expect(await waitForStatus(engine, first.runId, ["failed", "succeeded"])).toBe("failed");
    const t = target();
    const reply = await control.apply({ name: "retry", access: "write" }, t);
    const again = await control.apply({ name: "retry", access: "write" }, t);
    expect(reply).toMatch(new RegExp(`^@alice started run \`(run_\\w+)\` \\(impl_change\\) to retry \`${first.runId}\` \\(failed\\)`));
    const retried = /started run `(run_\w+)`/.exec(reply)![1]!;
    // The same command processed again (a redelivery after a crash) finds the new run and starts nothing.
    expect(again).toMatch(new RegExp(`^Nothing to retry: the latest run on this PR, \`${retried}\`, is (queued|running|succeeded)`));
    expect(requests.all().map((r) => r.request)).toEqual([expect.objectContaining({ idempotency_key: `retry:${t.eventId}`, trigger: "command:retry", stop_after: "plan" })]);
    expect(await waitForStatus(engine, retried, ["failed", "succeeded"])).toBe("succeeded");
  });
});
