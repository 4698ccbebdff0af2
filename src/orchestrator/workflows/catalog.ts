// The catalogue of workflow definitions, looked up by run type or name, and each definition's digest.
import { createHash } from "node:crypto";
import canonicalize from "canonicalize";
import type { RunType } from "../ledger/port.js";
import type { WorkflowDefinition } from "./schema.js";

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

/**
 * A catalogue over a set of definitions. This module does not load the built-in ones (./index.ts
 * does, and its WorkflowCatalog defaults to them): a process given its own definitions does not
 * validate the built-ins it will never run.
 */
export class WorkflowCatalog {
  private readonly byType = new Map<string, WorkflowDefinition>();
  private readonly byName = new Map<string, WorkflowDefinition>();

  constructor(readonly all: readonly WorkflowDefinition[]) {
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
