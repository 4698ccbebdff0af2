// The workflow definitions: valid data, one per run type, digests, and schema errors that say what to fix.
import { describe, expect, it } from "vitest";
import { builtinCatalog, definitionDigest, workflows } from "../../../src/orchestrator/workflows/index.js";
import { afterFailure, errorMatches, retryDelaySeconds } from "../../../src/orchestrator/workflows/policy.js";
import { nextStepId } from "../../../src/orchestrator/workflows/run-state.js";
import { ActivityName, activityKinds, defineWorkflow, runsInContainer, type WorkflowInput } from "../../../src/orchestrator/workflows/schema.js";

const base: WorkflowInput = {
  name: "SampleRun",
  run_type: "impl_change",
  version: 1,
  description: "sample",
  steps: [
    { id: "plan", activity: "plan", timeout_seconds: 60 },
    { id: "report", activity: "report", timeout_seconds: 60 },
  ],
  on_failure: { id: "report_failure", activity: "report", timeout_seconds: 60 },
};

describe("workflow definitions", () => {
  it("has one workflow per run type, named as the design names them", () => {
    expect(workflows.map((w) => [w.name, w.run_type])).toEqual([
      ["SpecChangeRun", "spec_change"],
      ["ImplementationRun", "impl_change"],
      ["ConformanceUpdateRun", "conformance_update"],
      ["ReleasePrepRun", "release_prep"],
      ["WatcherInvestigationRun", "watcher_investigation"],
    ]);
    const catalog = builtinCatalog();
    for (const w of workflows) {
      expect(catalog.forRunType(w.run_type)).toBe(w);
      expect(catalog.named(w.name.toLowerCase())).toBe(w);
    }
    expect(catalog.named("NoSuchRun")).toBeUndefined();
  });

  it("every change-making workflow plans, builds, verifies, publishes, waits for approval and reports", () => {
    for (const w of workflows.filter((w) => w.run_type !== "watcher_investigation"))
      expect(w.steps.map((s) => s.activity)).toEqual(["plan", "build", "verify", "publish", "await_approvals", "report"]);
    for (const w of workflows) {
      expect(w.on_failure.activity).toBe("report");
      expect(w.steps.every((s) => s.catch.includes("States.ALL"))).toBe(true);
    }
  });

  it("digests are stable and change with any edit", () => {
    const w = workflows[0]!;
    expect(definitionDigest(w)).toMatch(/^[0-9a-f]{64}$/);
    expect(definitionDigest(structuredClone(w))).toBe(definitionDigest(w));
    expect(definitionDigest({ ...w, steps: w.steps.map((s, i) => (i === 0 ? { ...s, timeout_seconds: s.timeout_seconds + 1 } : s)) })).not.toBe(definitionDigest(w));
  });

  const bad: [string, WorkflowInput, RegExp][] = [
    ["duplicate step ids", { ...base, steps: [base.steps[0]!, base.steps[0]!] }, /SampleRun: steps.1.id step id plan is used twice/],
    ["failure step id reused", { ...base, on_failure: { ...base.on_failure, id: "plan" } }, /on_failure.id plan is also a step id/],
    ["States.ALL not alone", { ...base, steps: [{ ...base.steps[0]!, catch: ["States.ALL", "Gate.Failed"] }] }, /States.ALL matches every error, so it must be the only name/],
    ["unknown States error", { ...base, steps: [{ ...base.steps[0]!, catch: ["States.Oops"] }] }, /States.Oops is not an error Step Functions raises/],
    ["bad error name", { ...base, steps: [{ ...base.steps[0]!, catch: ["not an error!"] }] }, /must be an error name such as Forge.RateLimited/],
    ["zero timeout", { ...base, steps: [{ ...base.steps[0]!, timeout_seconds: 0 }] }, /steps.0.timeout_seconds/],
    ["sub-second backoff", { ...base, steps: [{ ...base.steps[0]!, retry: { max_attempts: 2, backoff: { initial_seconds: 0.5, rate: 2, max_seconds: 5 }, retryable_errors: ["X.Y"] } }] }, /backoff.initial_seconds/],
    ["unknown activity", { ...base, steps: [{ ...base.steps[0]!, activity: "merge" as never }] }, /steps.0.activity/],
    ["lowercase name", { ...base, name: "sample" }, /must be PascalCase ending in Run/],
    ["unknown field", { ...base, steps: [{ ...base.steps[0]!, retries: 3 } as never] }, /retries/],
  ];
  for (const [what, input, message] of bad) it(`refuses ${what}, saying what to fix`, () => expect(() => defineWorkflow(input)).toThrow(message));

  it("classifies agent, gate, task and approval activities; agents and gates run in a container", () => {
    expect(activityKinds).toEqual({ plan: "agent", build: "agent", verify: "gate", publish: "task", await_approvals: "approval", report: "task" });
    expect(ActivityName.options.filter(runsInContainer)).toEqual(["plan", "build", "verify"]);
  });
});

describe("failure policy (ASL semantics, shared by both engines)", () => {
  const cases: [string[], string, boolean][] = [
    [["Forge.RateLimited"], "Forge.RateLimited", true],
    [["Forge.RateLimited"], "Forge.Unavailable", false],
    [["States.ALL"], "States.Timeout", true],
    [["States.TaskFailed"], "Gate.Failed", true],
    [["States.TaskFailed"], "States.Timeout", false],
    [["States.Timeout"], "States.Timeout", true],
  ];
  for (const [patterns, name, want] of cases) it(`${patterns.join(",")} ${want ? "matches" : "does not match"} ${name}`, () => expect(errorMatches(patterns, name)).toBe(want));

  it("backs off exponentially up to the cap, and stops after max_attempts", () => {
    const policy = { max_attempts: 4, backoff: { initial_seconds: 5, rate: 2, max_seconds: 12 }, retryable_errors: ["Forge.RateLimited"] };
    expect([1, 2, 3].map((r) => retryDelaySeconds(policy, r))).toEqual([5, 10, 12]);
    const step = { retry: policy, catch: ["States.ALL"] };
    expect(afterFailure(step, 1, "Forge.RateLimited")).toEqual({ action: "retry", delaySeconds: 5 });
    expect(afterFailure(step, 4, "Forge.RateLimited")).toEqual({ action: "catch" });
    expect(afterFailure(step, 1, "Gate.Failed")).toEqual({ action: "catch" });
    expect(afterFailure({ catch: ["Gate.Failed"] }, 1, "Forge.Unavailable")).toEqual({ action: "fail" });
  });

  it("stop_after skips to the closing report, or ends a workflow without one", () => {
    const impl = builtinCatalog().forRunType("impl_change");
    expect(nextStepId(impl, "plan", null)).toBe("build");
    expect(nextStepId(impl, "plan", "plan")).toBe("report");
    expect(nextStepId(impl, "verify", "verify")).toBe("report");
    expect(nextStepId(impl, "build", "plan")).toBe("verify");
    expect(nextStepId(impl, "report", null)).toBeNull();
    const noReport = defineWorkflow({ ...base, steps: [base.steps[0]!, { id: "verify", activity: "verify", timeout_seconds: 60 }] });
    expect(nextStepId(noReport, "plan", "plan")).toBeNull();
  });
});
