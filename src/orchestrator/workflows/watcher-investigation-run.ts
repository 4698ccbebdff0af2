// WatcherInvestigationRun: investigates a watcher finding and reports; it changes no code, so nothing is published or approved.
import { agentRetry, forgeRetry, gateRetry, minutes } from "./retry-presets.js";
import { defineWorkflow } from "./schema.js";

export default defineWorkflow({
  name: "WatcherInvestigationRun",
  run_type: "watcher_investigation",
  version: 1,
  description: "Investigate a watcher finding with an agent, re-run the watcher checks, report the outcome on the issue and in Jira.",
  steps: [
    { id: "plan", activity: "plan", timeout_seconds: minutes(30), retry: agentRetry },
    { id: "verify", activity: "verify", timeout_seconds: minutes(30), retry: gateRetry },
    { id: "report", activity: "report", timeout_seconds: minutes(5), retry: forgeRetry },
  ],
  on_failure: { id: "report_failure", activity: "report", timeout_seconds: minutes(5), retry: forgeRetry },
});
