// WatcherInvestigationRun: investigates a watcher finding and reports; it changes no code, so nothing is published or approved.
import { reportFailure, step } from "./steps.js";
import { defineWorkflow } from "./schema.js";

export default defineWorkflow({
  name: "WatcherInvestigationRun",
  run_type: "watcher_investigation",
  version: 1,
  description: "Investigate a watcher finding with an agent, re-run the watcher checks, report the outcome on the issue and in Jira.",
  steps: [step.plan(30), step.verify(30), step.report],
  on_failure: reportFailure,
});
