// The built-in workflow definitions, one per run type, and a catalogue over them (see ./catalog.ts).
import { WorkflowCatalog as Catalog } from "./catalog.js";
import conformanceUpdateRun from "./conformance-update-run.js";
import implementationRun from "./implementation-run.js";
import releasePrepRun from "./release-prep-run.js";
import type { WorkflowDefinition } from "./schema.js";
import specChangeRun from "./spec-change-run.js";
import watcherInvestigationRun from "./watcher-investigation-run.js";

export * from "./schema.js";
export { definitionDigest, definitionRef, type DefinitionRef } from "./catalog.js";

/** Every workflow, in a stable order. */
export const workflows: readonly WorkflowDefinition[] = [
  specChangeRun,
  implementationRun,
  conformanceUpdateRun,
  releasePrepRun,
  watcherInvestigationRun,
];

/** The catalogue of the built-in workflows unless given others. */
export class WorkflowCatalog extends Catalog {
  constructor(all: readonly WorkflowDefinition[] = workflows) {
    super(all);
  }
}
