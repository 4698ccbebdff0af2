// ConformanceUpdateRun: brings conformance material (IR, traceability) back in line with the specs and code.
import { agentRetry, days, forgeRetry, gateRetry, minutes } from "./retry-presets.js";
import { defineWorkflow } from "./schema.js";

export default defineWorkflow({
  name: "ConformanceUpdateRun",
  run_type: "conformance_update",
  version: 1,
  description: "Regenerate conformance artifacts after a spec or code change, verify them, open a PR/MR, wait for approval, report.",
  steps: [
    { id: "plan", activity: "plan", timeout_seconds: minutes(20), retry: agentRetry },
    { id: "build", activity: "build", timeout_seconds: minutes(60), retry: agentRetry },
    { id: "verify", activity: "verify", timeout_seconds: minutes(30), retry: gateRetry },
    { id: "publish", activity: "publish", timeout_seconds: minutes(10), retry: forgeRetry },
    { id: "await_approvals", activity: "await_approvals", timeout_seconds: days(21) },
    { id: "report", activity: "report", timeout_seconds: minutes(5), retry: forgeRetry },
  ],
  on_failure: { id: "report_failure", activity: "report", timeout_seconds: minutes(5), retry: forgeRetry },
});
