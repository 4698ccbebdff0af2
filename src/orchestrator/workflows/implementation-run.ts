// ImplementationRun: a code change implementing an approved spec, built by an agent, gated, proposed as a PR/MR.
import { agentRetry, days, forgeRetry, gateRetry, minutes } from "./retry-presets.js";
import { defineWorkflow } from "./schema.js";

export default defineWorkflow({
  name: "ImplementationRun",
  run_type: "impl_change",
  version: 1,
  description: "Plan and implement a code change, run the gates and tests, open a PR/MR with evidence, wait for approval, report.",
  steps: [
    { id: "plan", activity: "plan", timeout_seconds: minutes(30), retry: agentRetry },
    { id: "build", activity: "build", timeout_seconds: minutes(120), retry: agentRetry },
    { id: "verify", activity: "verify", timeout_seconds: minutes(60), retry: gateRetry },
    { id: "publish", activity: "publish", timeout_seconds: minutes(10), retry: forgeRetry },
    { id: "await_approvals", activity: "await_approvals", timeout_seconds: days(21) },
    { id: "report", activity: "report", timeout_seconds: minutes(5), retry: forgeRetry },
  ],
  on_failure: { id: "report_failure", activity: "report", timeout_seconds: minutes(5), retry: forgeRetry },
});
