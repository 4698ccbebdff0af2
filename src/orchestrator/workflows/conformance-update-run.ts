// ConformanceUpdateRun: brings conformance material (IR, traceability) back in line with the specs and code.
import { proposeChange } from "./steps.js";
import { defineWorkflow } from "./schema.js";

export default defineWorkflow({
  name: "ConformanceUpdateRun",
  run_type: "conformance_update",
  version: 1,
  description: "Regenerate conformance artifacts after a spec or code change, verify them, open a PR/MR, wait for approval, report.",
  ...proposeChange({ plan: 20, build: 60, verify: 30 }),
});
