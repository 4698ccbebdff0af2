// Workflow definitions used only by the engine benchmark: n no-op task steps, and a run that parks at an approval.
import { defineWorkflow, type WorkflowDefinition } from "../src/orchestrator/workflows/schema.js";

/** `n` task steps (Lambda-style on AWS), each a no-op in the benchmark. */
export function stepsDefinition(n: number): WorkflowDefinition {
  return defineWorkflow({
    name: "BenchRun",
    run_type: "watcher_investigation",
    version: 1,
    description: `${n} no-op task steps`,
    steps: Array.from({ length: n }, (_, i) => ({ id: `step_${i + 1}`, activity: "verify" as const, timeout_seconds: 60 })),
    on_failure: { id: "report_failure", activity: "report", timeout_seconds: 60 },
  });
}

/** Parks at its approval step; a decision resumes it into a closing report. */
export const parkDefinition: WorkflowDefinition = defineWorkflow({
  name: "ParkRun",
  run_type: "impl_change",
  version: 1,
  description: "approval then report",
  steps: [
    { id: "await_approvals", activity: "await_approvals", timeout_seconds: 1_814_400 },
    { id: "report", activity: "report", timeout_seconds: 60 },
  ],
  on_failure: { id: "report_failure", activity: "report", timeout_seconds: 60 },
});
