// The catalogue of workflow definitions: one per run type, looked up by run type or name, each with its digest.
import { createHash } from "node:crypto";
import canonicalize from "canonicalize";
import type { RunType } from "../ledger/port.js";
import conformanceUpdateRun from "./conformance-update-run.js";
import implementationRun from "./implementation-run.js";
import releasePrepRun from "./release-prep-run.js";
import type { WorkflowDefinition } from "./schema.js";
import specChangeRun from "./spec-change-run.js";
import watcherInvestigationRun from "./watcher-investigation-run.js";

export * from "./schema.js";

/** Every workflow, in a stable order. */
export const workflows: readonly WorkflowDefinition[] = [
  specChangeRun,
  implementationRun,
  conformanceUpdateRun,
  releasePrepRun,
  watcherInvestigationRun,
];

/** sha256 of the definition's RFC 8785 canonical JSON: recorded with each run, so an edit without a version bump shows. */
export function definitionDigest(def: WorkflowDefinition): string {
  return createHash("sha256").update(canonicalize(def) ?? "").digest("hex");
}

/** What a run records about the definition it started with. */
export interface DefinitionRef {
  readonly name: string;
  readonly version: number;
  readonly sha256: string;
}

export function definitionRef(def: WorkflowDefinition): DefinitionRef {
  return { name: def.name, version: def.version, sha256: definitionDigest(def) };
}

/** A catalogue over a set of definitions (the built-in ones by default; tests pass their own). */
export class WorkflowCatalog {
  private readonly byType = new Map<string, WorkflowDefinition>();
  private readonly byName = new Map<string, WorkflowDefinition>();

  constructor(readonly all: readonly WorkflowDefinition[] = workflows) {
    for (const def of all) {
      if (this.byType.has(def.run_type)) throw new Error(`two workflows for run type ${def.run_type}: ${this.byType.get(def.run_type)!.name} and ${def.name}`);
      this.byType.set(def.run_type, def);
      this.byName.set(def.name, def);
    }
  }

  forRunType(runType: RunType): WorkflowDefinition {
    const def = this.byType.get(runType);
    if (!def) throw new Error(`no workflow for run type ${runType}; known: ${[...this.byType.keys()].join(", ")}`);
    return def;
  }

  /** By name, case-insensitively (`implementationrun` finds ImplementationRun). */
  named(name: string): WorkflowDefinition | undefined {
    return this.byName.get(name) ?? this.all.find((d) => d.name.toLowerCase() === name.toLowerCase());
  }
}
