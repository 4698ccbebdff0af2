// The built-in workflow definitions and a catalogue over them (see ./catalog.ts): the latest version per run type, plus any earlier version runs still go on under.
import { WorkflowCatalog } from "./catalog.js";
import conformanceUpdateRun from "./conformance-update-run.js";
import implementationRun from "./implementation-run.js";
import releasePrepRun from "./release-prep-run.js";
import type { WorkflowDefinition } from "./schema.js";
import specChangeRun from "./spec-change-run.js";
import watcherInvestigationRun from "./watcher-investigation-run.js";

export * from "./schema.js";
export { definitionDigest, definitionRef, WorkflowCatalog, type DefinitionRef } from "./catalog.js";

/** Every workflow definition, in a stable order (an earlier version of one is listed after its latest). */
export const workflows: readonly WorkflowDefinition[] = [
  specChangeRun,
  implementationRun,
  conformanceUpdateRun,
  releasePrepRun,
  watcherInvestigationRun,
];

/** The catalogue of the built-in workflows (the server's, the Lambda's, the CLI's). */
export function builtinCatalog(): WorkflowCatalog {
  return new WorkflowCatalog(workflows);
}
