// ImplementationRun: a code change implementing an approved spec, built by an agent, gated, proposed as a PR/MR.
import { proposeChange } from "./steps.js";
import { defineWorkflow } from "./schema.js";

export default defineWorkflow({
  name: "ImplementationRun",
  run_type: "impl_change",
  version: 1,
  description: "Plan and implement a code change, run the gates and tests, open a PR/MR with evidence, wait for approval, report.",
  ...proposeChange({ plan: 30, build: 120, verify: 60 }),
});
