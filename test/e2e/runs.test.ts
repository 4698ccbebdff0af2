// From a signed GitHub webhook to a run in the ledger, and slash commands acting on it, through the real app over HTTP.
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import nock from "nock";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { RunSummary } from "../../src/orchestrator/ledger/port.js";
import { startApp, type RunningApp } from "../helpers/app.js";
import { finished, spawnCli } from "../helpers/cli.js";
import { appPrivateKey, codertocatApi, examplePayload, githubHeaders, issueComment } from "../helpers/github.js";
import { ledgerTrace, request, waitFor } from "../orchestrator/engine/harness.js";
import { ScriptedActivities } from "../orchestrator/engine/scripted.js";

const API = "https://api.github.com";
const SECRET = "e2e-secret";
const REPO = "/repos/Codertocat/Hello-World";
const env = () => ({
  APP_ID: "4242",
  PRIVATE_KEY: appPrivateKey(),
  WEBHOOK_SECRET: SECRET,
  BOT_LOGIN: "scintilla[bot]",
  INTAKE_RETRY_MS: "10",
  ENGINE_POLL_INTERVAL_MS: "20",
});

/** `issues.labeled` on Codertocat/Hello-World#`issue` from the App's installation 77. */
function labeled(issue: number, label = "orchestrator:impl"): string {
  const p = JSON.parse(examplePayload("issues"));
  p.action = "labeled";
  p.label = { id: 1, node_id: "x", url: `${API}${REPO}/labels/x`, name: label, color: "ffffff", default: false, description: null };
  p.issue.number = issue;
  p.installation = { id: 77, node_id: "x" };
  return JSON.stringify(p);
}


function useNock() {
  beforeAll(() => {
    nock.disableNetConnect();
    nock.enableNetConnect("127.0.0.1");
  });
  afterEach(() => {
    // Every GitHub call a test expects happened, and no other (a merge, a push) was made.
    expect(nock.pendingMocks()).toEqual([]);
    nock.cleanAll();
  });
  afterAll(() => nock.enableNetConnect());
}

async function deliver(running: RunningApp, event: string, body: string, id: string): Promise<void> {
  const res = await fetch(`${running.url}/api/github/webhooks`, { method: "POST", headers: await githubHeaders(event, body, SECRET, id), body });
  expect(await res.json()).toMatchObject({ delivery_id: id, status: "accepted" });
  await waitFor(() => ["done", "dead"].includes(running.app.intake.queue.get("github", id)?.status ?? "") || undefined, `delivery ${id} to be processed`);
}

async function runsOf(running: RunningApp, issue: number): Promise<readonly RunSummary[]> {
  return (await running.app.audit.ledger.listRuns({ subject: `github:Codertocat/Hello-World#issue/${issue}` })).runs;
}

async function settled(running: RunningApp, runId: string, statuses: readonly string[]): Promise<string> {
  return waitFor(async () => {
    const s = await running.app.engine.status(runId);
    return s && statuses.includes(s) ? s : undefined;
  }, `${runId} to reach ${statuses.join("|")}`);
}

async function ledgerVerify(running: RunningApp): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return finished(spawnCli(["ledger", "verify"], { DATA_DIR: running.dataDir, LOG_LEVEL: "silent" }));
}

describe("a labeled issue starts a run, with the production activities", () => {
  useNock();
  let running: RunningApp;
  // The production retry policy waits 30 s before retrying an agent step; the test keeps its shape, not its wait.
  beforeAll(async () => (running = await startApp(env(), undefined, { retryDelayMs: () => 0 })));
  afterAll(() => running.close());

  it("records one run whose missing agent fails it with the reason, after the failure report step", async () => {
    const gh = codertocatApi();
    gh.token();
    gh.noConfig();
    await deliver(running, "issues", labeled(3), "e2e-label-1");
    expect(running.app.intake.queue.get("github", "e2e-label-1")?.outcome).toMatch(/^run request rreq_\w+ created \(impl_change, label:orchestrator:impl\)/);
    const [run, ...more] = await runsOf(running, 3);
    expect(more).toEqual([]);
    expect(await settled(running, run!.run_id, ["failed", "succeeded", "cancelled"])).toBe("failed");

    const entries = await running.app.audit.ledger.entries(run!.run_id);
    // plan is an agent step: retried once (with the injected 0 s backoff), then the failure report runs.
    expect(ledgerTrace(entries)).toEqual(["plan:Activity.Unavailable", "plan:Activity.Unavailable", "report_failure:Activity.Unavailable"]);
    expect(entries.filter((e) => e.type === "step_started").map((e) => e.payload.step)).toEqual(["plan", "plan", "report_failure"]);
    const last = entries.at(-1)!;
    expect(last.type).toBe("status_changed");
    expect(last.payload.to).toBe("failed");
    expect(String(last.payload.reason)).toMatch(/not available yet: the planner agent .*the failure report failed too: .*not available yet: reporting run status/);

    const record = (await running.app.audit.ledger.run(run!.run_id))!;
    expect(record).toMatchObject({ run_type: "impl_change", repo_scope: "Codertocat/Hello-World", source: { event_id: "github:e2e-label-1", origin: "github" } });
    // The router's real policy version, not a placeholder.
    expect(record.policy_version).toBe(running.app.models.policyVersion);
    expect(record.policy_version).toMatch(/^[0-9a-f]{64}$/);
  });

  it("a redelivery of the same trigger starts nothing new", async () => {
    codertocatApi().noConfig();
    await deliver(running, "issues", labeled(3), "e2e-label-2");
    expect(running.app.intake.queue.get("github", "e2e-label-2")?.outcome).toMatch(/existing/);
    expect(await runsOf(running, 3)).toHaveLength(1);
  });

  it("`orchestrator ledger verify` passes on the data dir", async () => {
    const r = await ledgerVerify(running);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ledger intact: \d+ entries in 1 runs verified/);
  });
});

describe("slash commands act on the issue's run (scripted activities)", () => {
  useNock();
  let running: RunningApp;
  const acts = new ScriptedActivities();
  let runId = "";
  beforeAll(async () => (running = await startApp(env(), undefined, { activities: acts.registry() })));
  afterAll(() => running.close());

  it("the run parks awaiting approval", async () => {
    const gh = codertocatApi();
    gh.token();
    gh.noConfig();
    await deliver(running, "issues", labeled(5), "e2e-approve-0");
    const runs = await runsOf(running, 5);
    expect(runs).toHaveLength(1);
    runId = runs[0]!.run_id;
    expect(await settled(running, runId, ["awaiting_human", "failed"])).toBe("awaiting_human");
    expect(acts.trace(runId)).toEqual(["plan:ok", "build:ok", "verify:ok", "publish:ok", "await_approvals:ok"]);
  });

  it("a read-only user's approve gets the polite reply and changes nothing", async () => {
    const gh = codertocatApi();
    gh.noConfig();
    gh.permission("visitor", "read");
    const reply = gh.reply(5, /only users with write access/);
    await deliver(running, "issue_comment", issueComment(5, "/orchestrator approve plan", "visitor", 9001), "e2e-approve-ro");
    expect(reply.scope.isDone()).toBe(true);
    expect(reply.body()).toContain("@visitor");
    expect((await running.app.audit.ledger.entries(runId)).filter((e) => e.type === "decision")).toEqual([]);
    expect(await running.app.engine.status(runId)).toBe("awaiting_human");
  });

  it("an item outside the checklist is answered with the command's usage and changes nothing", async () => {
    const gh = codertocatApi();
    gh.noConfig();
    const reply = gh.reply(5, /name a checklist item/);
    await deliver(running, "issue_comment", issueComment(5, "/orchestrator approve vibes", "Codertocat", 9002), "e2e-approve-bad");
    expect(reply.scope.isDone()).toBe(true);
    expect(await running.app.engine.status(runId)).toBe("awaiting_human");
  });

  it("approvals of spec, plan and risk are recorded; the run resumes after release and succeeds", async () => {
    const items = ["spec", "plan", "risk", "release"];
    for (const [i, item] of items.entries()) {
      const gh = codertocatApi();
      gh.noConfig();
      gh.permission("Codertocat", "write");
      const last = i === items.length - 1;
      const reply = gh.reply(5, last ? /every checklist item is approved/ : /Still waiting for/);
      await deliver(running, "issue_comment", issueComment(5, `/orchestrator approve ${item}`, "Codertocat", 9100 + i), `e2e-approve-${item}`);
      expect(reply.scope.isDone()).toBe(true);
      expect(reply.body()).toContain(runId);
      expect(reply.body()).toContain(`**${item}**`);
      if (!last) {
        expect(reply.body()).toContain(items.slice(i + 1).join(", "));
        expect(await running.app.engine.status(runId)).toBe("awaiting_human");
      }
    }
    expect(await settled(running, runId, ["succeeded", "failed"])).toBe("succeeded");
    const entries = await running.app.audit.ledger.entries(runId);
    expect(entries.filter((e) => e.type === "decision").map((e) => [e.payload.item, e.payload.by, e.payload.via])).toEqual(items.map((i) => [i, "Codertocat", "slash_command"]));
    expect(acts.trace(runId).slice(-2)).toEqual(["await_approvals:ok", "report:ok"]);
  });

  it("/orchestrator status lists the run with its status", async () => {
    const gh = codertocatApi();
    gh.noConfig();
    const reply = gh.reply(5, /\| run \| type \| status \|/);
    await deliver(running, "issue_comment", issueComment(5, "/orchestrator status", "visitor", 9200), "e2e-status");
    expect(reply.body()).toContain(`| \`${runId}\` | impl_change | **succeeded** |`);
    expect(reply.body()).toMatch(/\| `rreq_\w+` \| impl_change \| label:orchestrator:impl \|/);
  });

  it("cancel and retry answer why nothing happened on a finished run; a new run can be cancelled and retried", async () => {
    let gh = codertocatApi();
    gh.noConfig();
    gh.permission("Codertocat", "write");
    let reply = gh.reply(5, /Nothing to cancel/);
    await deliver(running, "issue_comment", issueComment(5, "/orchestrator cancel", "Codertocat", 9300), "e2e-cancel-0");
    expect(reply.body()).toContain(`\`${runId}\`, ended succeeded`);

    gh = codertocatApi();
    gh.noConfig();
    gh.permission("Codertocat", "write");
    reply = gh.reply(5, /Nothing to retry/);
    await deliver(running, "issue_comment", issueComment(5, "/orchestrator retry", "Codertocat", 9301), "e2e-retry-0");
    expect(reply.body()).toContain("is succeeded");

    // A second run on the same issue (a command, not the label: that trigger already ran).
    gh = codertocatApi();
    gh.noConfig();
    gh.permission("Codertocat", "write");
    await deliver(running, "issue_comment", issueComment(5, "/orchestrator run impl_change", "Codertocat", 9302), "e2e-run-2");
    const second = (await runsOf(running, 5)).find((r) => r.run_id !== runId)!;
    expect(await settled(running, second.run_id, ["awaiting_human"])).toBe("awaiting_human");

    gh = codertocatApi();
    gh.noConfig();
    gh.permission("Codertocat", "write");
    reply = gh.reply(5, /cancelled run/);
    await deliver(running, "issue_comment", issueComment(5, "/orchestrator cancel", "Codertocat", 9303), "e2e-cancel-1");
    expect(reply.body()).toContain(second.run_id);
    expect(await running.app.engine.status(second.run_id)).toBe("cancelled");

    gh = codertocatApi();
    gh.noConfig();
    gh.permission("Codertocat", "write");
    reply = gh.reply(5, /to retry/);
    await deliver(running, "issue_comment", issueComment(5, "/orchestrator retry", "Codertocat", 9304), "e2e-retry-1");
    const third = (await runsOf(running, 5)).find((r) => r.run_id !== runId && r.run_id !== second.run_id)!;
    expect(reply.body()).toContain(third.run_id);
    expect(reply.body()).toContain(second.run_id);
    const record = (await running.app.audit.ledger.run(third.run_id))!;
    expect(record.inputs).toMatchObject({ idempotency_key: "retry:github:e2e-retry-1", trigger: "command:retry", requested_by: { login: "Codertocat" } });
    expect(await settled(running, third.run_id, ["awaiting_human"])).toBe("awaiting_human");
  });

  it("`orchestrator ledger verify` passes on the data dir", async () => {
    const r = await ledgerVerify(running);
    expect(r.code, r.stderr).toBe(0);
  });
});

describe("a review on the PR decides its run (scripted activities)", () => {
  useNock();
  let running: RunningApp;
  const acts = new ScriptedActivities();
  beforeAll(async () => (running = await startApp(env(), undefined, { activities: acts.registry() })));
  afterAll(() => running.close());

  /** GitHub's documented pull_request_review.submitted on Codertocat/Hello-World#2, as `login` with review state `state`. */
  const reviewed = (state: string, login: string, id: number) => {
    const p = JSON.parse(examplePayload("pull_request_review"));
    p.installation = { id: 77, node_id: "x" };
    p.review = { ...p.review, id, state, body: state === "approved" ? "Looks right" : "Please split this" };
    p.sender = { ...p.sender, login, id };
    return JSON.stringify(p);
  };
  const prRuns = async () => (await running.app.audit.ledger.listRuns({ subject: "github:Codertocat/Hello-World#2" })).runs;

  it("a comment-only review is answered 202 ignored before it is queued", async () => {
    const body = reviewed("commented", "Codertocat", 1);
    const res = await fetch(`${running.url}/api/github/webhooks`, { method: "POST", headers: await githubHeaders("pull_request_review", body, SECRET, "e2e-review-0"), body });
    expect(await res.json()).toEqual({ delivery_id: "e2e-review-0", status: "ignored", reason: "a review that commented decides nothing" });
  });

  it("an approving review by someone without write access changes nothing and gets no reply; one by a maintainer approves the whole checklist", async () => {
    const gh = codertocatApi();
    gh.token();
    gh.noConfig();
    const pr = JSON.parse(examplePayload("pull_request"));
    const labeledPr = { ...pr, action: "labeled", label: { name: "orchestrator:impl" }, installation: { id: 77, node_id: "x" } };
    await deliver(running, "pull_request", JSON.stringify(labeledPr), "e2e-review-pr");
    const [run] = await prRuns();
    expect(await settled(running, run!.run_id, ["awaiting_human", "failed"])).toBe("awaiting_human");

    gh.noConfig();
    gh.permission("visitor", "read");
    await deliver(running, "pull_request_review", reviewed("approved", "visitor", 2), "e2e-review-ro");
    expect(running.app.intake.queue.get("github", "e2e-review-ro")?.outcome).toBe("ignored: visitor has read permission, write needed for a review to decide");
    expect(await running.app.engine.status(run!.run_id)).toBe("awaiting_human");

    gh.noConfig();
    gh.permission("Codertocat", "write");
    const reply = gh.reply(2, /every checklist item is approved/);
    await deliver(running, "pull_request_review", reviewed("approved", "Codertocat", 3), "e2e-review-ok");
    expect(reply.body()).toContain(`@Codertocat approved **spec, plan, risk, release** on run \`${run!.run_id}\``);
    expect(await settled(running, run!.run_id, ["succeeded", "failed"])).toBe("succeeded");
    const decisions = (await running.app.audit.ledger.entries(run!.run_id)).filter((e) => e.type === "decision");
    expect(decisions.map((e) => [e.payload.item, e.payload.by, e.payload.via])).toEqual(["spec", "plan", "risk", "release"].map((i) => [i, "Codertocat", "review"]));
  });

  it("a review on a PR with no run waiting gets no reply", async () => {
    const gh = codertocatApi();
    gh.noConfig();
    gh.permission("Codertocat", "write");
    await deliver(running, "pull_request_review", reviewed("changes_requested", "Codertocat", 4), "e2e-review-none");
    expect(running.app.intake.queue.get("github", "e2e-review-none")?.outcome).toBe("ignored: no run on this PR/MR is waiting for approval");
  });
});

describe("with an invalid routing policy", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "e2e-policy-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("runs record `invalid:<sha256 of the file>` as their policy version while /readyz says why", async () => {
    const file = path.join(dir, "routing-policy.yaml");
    const text = "providers: [not, a, map]\n";
    writeFileSync(file, text);
    const running = await startApp({ ROUTING_POLICY_PATH: file }, undefined, { activities: new ScriptedActivities().registry() });
    try {
      expect((await fetch(`${running.url}/readyz`)).status).toBe(503);
      const { runId } = await running.app.engine.start(request("watcher_investigation"));
      const record = (await running.app.audit.ledger.run(runId))!;
      expect(record.policy_version).toBe(`invalid:${createHash("sha256").update(text).digest("hex")}`);
    } finally {
      await running.close();
    }
  });
});
