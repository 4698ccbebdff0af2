// SpecChangeRun: a change to a specification, planned, written, linted by the spec gates, proposed as a PR/MR for approval.
import { agentRetry, days, forgeRetry, gateRetry, minutes } from "./retry-presets.js";
import { defineWorkflow } from "./schema.js";

export default defineWorkflow({
  name: "SpecChangeRun",
  run_type: "spec_change",
  version: 1,
  description: "Plan and write a specification change, run the spec gates, open a PR/MR with evidence, wait for approval, report.",
  steps: [
    { id: "plan", activity: "plan", timeout_seconds: minutes(30), retry: agentRetry },
    { id: "build", activity: "build", timeout_seconds: minutes(60), retry: agentRetry },
    { id: "verify", activity: "verify", timeout_seconds: minutes(30), retry: gateRetry },
    { id: "publish", activity: "publish", timeout_seconds: minutes(10), retry: forgeRetry },
    { id: "await_approvals", activity: "await_approvals", timeout_seconds: days(21) },
    { id: "report", activity: "report", timeout_seconds: minutes(5), retry: forgeRetry },
  ],
  on_failure: { id: "report_failure", activity: "report", timeout_seconds: minutes(5), retry: forgeRetry },
});
