// ReleasePrepRun: prepares a release (notes, version bumps, evidence) for humans to approve; it never tags or merges.
import { proposeChange } from "./steps.js";
import { defineWorkflow } from "./schema.js";

export default defineWorkflow({
  name: "ReleasePrepRun",
  run_type: "release_prep",
  version: 1,
  description: "Plan a release, prepare notes and version changes, run the release gates, open a PR/MR, wait for the release approval, report.",
  ...proposeChange({ plan: 20, build: 60, verify: 60 }),
});
