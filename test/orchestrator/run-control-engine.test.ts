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
const noApprovers: RunControlTarget["approvers"] = { spec: [], plan: [], risk: [], release: [] };
function target(subject: Partial<EventSubject> = {}, login = "alice", approvers = noApprovers): RunControlTarget {
  const r = request("impl_change");
  return {
    source: "github",
    repo: r.repo,
    subject: { ...r.subject, ...subject },
    actor: { login, id: "9", name: null, is_bot: false, permission: "write" },
    eventId: `github:cmd-${++eventSeq}`,
    approvers,
  };
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

  it("an approving review approves every open checklist item, and the run goes on", async () => {
    const { control, engine, ledger } = setup();
    expect(await control.review({ state: "approved", body: null }, target())).toBeNull();
    const { runId } = await engine.start(request("impl_change"));
    await waitForStatus(engine, runId, ["awaiting_human"]);
    expect(await control.apply({ name: "approve", access: "write", item: "spec" }, target())).toMatch(/Still waiting for: plan, risk, release/);
    const reply = await control.review({ state: "approved", body: "LGTM" }, target({}, "bob"));
    expect(reply).toMatch(new RegExp(`^@bob approved \\*\\*plan, risk, release\\*\\* on run \`${runId}\`: every checklist item is approved`));
    const decisions = (await ledger.entries(runId)).filter((e) => e.type === "decision").map((e) => e.payload);
    expect(decisions).toEqual([
      expect.objectContaining({ item: "spec", via: "slash_command" }),
      ...["plan", "risk", "release"].map((item) => ({ decision: "approved", by: "bob", via: "review", item, step: expect.any(String) })),
    ]);
    expect(await waitForStatus(engine, runId, ["failed", "succeeded"])).toBe("succeeded");
  });

  it("finds a run from the PR it published: a review there decides a run started from an issue", async () => {
    const { control, engine, ledger } = setup();
    const base = request("impl_change");
    const issue = { ...base.subject, type: "issue" as const, number: 5, url: "https://github.com/acme/api/issues/5" };
    const { runId } = await engine.start(request("impl_change", "default", { subject: issue }));
    await waitForStatus(engine, runId, ["awaiting_human"]);
    const onPr = () => target({ number: 6, url: "https://github.com/acme/api/pull/6" }, "bob");
    expect(await control.review({ state: "approved", body: null }, onPr())).toBeNull();
    expect(await control.apply({ name: "approve", access: "write", item: "spec" }, onPr())).toBe("No run has been started for this PR yet, so there is nothing to approve.");

    const published = { forge: "github", url: "https://github.com/acme/api/pull/6", subject: { kind: "pull_request" as const, forge: "github" as const, repo: "acme/api", number: 6 } };
    await ledger.append([{ runId, expectedSeq: (await ledger.entries(runId)).length, entries: [{ type: "published", payload: published }] }]);
    expect(await control.apply({ name: "approve", access: "write", item: "spec" }, onPr())).toMatch(new RegExp(`^@bob approved \\*\\*spec\\*\\* on run \`${runId}\`\\. Still waiting for: plan, risk, release`));
    expect(await control.review({ state: "approved", body: "LGTM" }, onPr())).toMatch(new RegExp(`^@bob approved \\*\\*plan, risk, release\\*\\* on run \`${runId}\`: every checklist item is approved`));
    expect(await waitForStatus(engine, runId, ["failed", "succeeded"])).toBe("succeeded");
    // The issue it started from still finds it too.
    expect(await control.apply({ name: "retry", access: "write" }, target({ type: "issue", number: 5 }))).toBe(
      `Nothing to retry: the latest run on this issue, \`${runId}\`, is succeeded; \`/orchestrator retry\` starts a failed or cancelled run again.`,
    );
  });

  it("a change request is recorded and the run keeps waiting", async () => {
    const { control, engine, ledger } = setup();
    const { runId } = await engine.start(request("impl_change"));
    await waitForStatus(engine, runId, ["awaiting_human"]);
    expect(await control.review({ state: "changes_requested", body: "split this PR" }, target())).toBe(`@alice requested changes: recorded on run \`${runId}\`, which keeps waiting for approval.`);
    expect(await engine.status(runId)).toBe("awaiting_human");
    expect((await ledger.entries(runId)).find((e) => e.type === "decision")!.payload).toMatchObject({ decision: "changes_requested", by: "alice", via: "review", reason: "split this PR" });
  });

  it("holds approvals to the repo config's approvers per checklist item", async () => {
    const { control, engine, ledger } = setup();
    const approvers = { ...noApprovers, risk: ["Carol"], release: ["carol", "dave"] };
    const { runId } = await engine.start(request("impl_change"));
    await waitForStatus(engine, runId, ["awaiting_human"]);
    expect(await control.apply({ name: "approve", access: "write", item: "risk" }, target({}, "alice", approvers))).toBe(
      "Sorry @alice, only @Carol may decide **risk** on this repository (`approvers.risk` in the repo config), so nothing was changed.",
    );
    expect(await control.apply({ name: "reject", access: "write", item: "release", reason: null }, target({}, "alice", approvers))).toMatch(/^Sorry @alice, only @carol, @dave may decide \*\*release\*\*/);
    // A review approves only what its author may decide.
    expect(await control.review({ state: "approved", body: null }, target({}, "alice", approvers))).toMatch(/approved \*\*spec, plan\*\* .* Still waiting for: risk, release/);
    expect(await control.review({ state: "approved", body: null }, target({}, "alice", approvers))).toBe(
      `@alice approved, but the checklist items still open on run \`${runId}\` (risk, release) need approval from @Carol; @carol, @dave, so nothing was changed.`,
    );
    expect(await control.review({ state: "approved", body: null }, target({}, "carol", approvers))).toMatch(/approved \*\*risk, release\*\*.*every checklist item is approved/);
    const decided = (await ledger.entries(runId)).filter((e) => e.type === "decision").map((e) => `${(e.payload as { by: string }).by}:${(e.payload as { item?: string }).item ?? "all"}`);
    expect(decided).toEqual(["alice:spec", "alice:plan", "carol:risk", "carol:release"]);
    expect(await waitForStatus(engine, runId, ["failed", "succeeded"])).toBe("succeeded");
  });
});
