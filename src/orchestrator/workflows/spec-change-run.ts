// SpecChangeRun: a change to a specification, planned, written, linted by the spec gates, proposed as a PR/MR for approval.
import { proposeChange } from "./steps.js";
import { defineWorkflow } from "./schema.js";

export default defineWorkflow({
  name: "SpecChangeRun",
  run_type: "spec_change",
  version: 1,
  description: "Plan and write a specification change, run the spec gates, open a PR/MR with evidence, wait for approval, report.",
  ...proposeChange({ plan: 30, build: 60, verify: 30 }),
});
