// ReleasePrepRun: prepares a release (notes, version bumps, evidence) for humans to approve; it never tags or merges.
import { agentRetry, days, forgeRetry, gateRetry, minutes } from "./retry-presets.js";
import { defineWorkflow } from "./schema.js";

export default defineWorkflow({
  name: "ReleasePrepRun",
  run_type: "release_prep",
  version: 1,
  description: "Plan a release, prepare notes and version changes, run the release gates, open a PR/MR, wait for the release approval, report.",
  steps: [
    { id: "plan", activity: "plan", timeout_seconds: minutes(20), retry: agentRetry },
    { id: "build", activity: "build", timeout_seconds: minutes(60), retry: agentRetry },
    { id: "verify", activity: "verify", timeout_seconds: minutes(60), retry: gateRetry },
    { id: "publish", activity: "publish", timeout_seconds: minutes(10), retry: forgeRetry },
    { id: "await_approvals", activity: "await_approvals", timeout_seconds: days(21) },
    { id: "report", activity: "report", timeout_seconds: minutes(5), retry: forgeRetry },
  ],
  on_failure: { id: "report_failure", activity: "report", timeout_seconds: minutes(5), retry: forgeRetry },
});
