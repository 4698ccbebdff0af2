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
 *
 * A workflow may be listed in several versions: new runs take the highest, and a run goes on
 * under the version it started with (`at`), so a build that changes a definition keeps the
 * earlier version while runs started under it are still going.
 */
export class WorkflowCatalog {
  private readonly byType = new Map<string, WorkflowDefinition>();
  private readonly byName = new Map<string, WorkflowDefinition>();
  private readonly byVersion = new Map<string, WorkflowDefinition>();

  constructor(readonly all: readonly WorkflowDefinition[]) {
    for (const def of all) {
      const key = versionKey(def.name, def.version);
      if (this.byVersion.has(key)) throw new Error(`workflow ${def.name} v${def.version} is listed twice`);
      this.byVersion.set(key, def);
      const latest = this.byType.get(def.run_type);
      if (latest && latest.name !== def.name) throw new Error(`two workflows for run type ${def.run_type}: ${latest.name} and ${def.name}`);
      if (!latest || def.version > latest.version) {
        this.byType.set(def.run_type, def);
        this.byName.set(def.name, def);
      }
    }
  }

  /** The latest version for a run type: what a new run starts under. */
  forRunType(runType: RunType): WorkflowDefinition {
    const def = this.byType.get(runType);
    if (!def) throw new Error(`no workflow for run type ${runType}; known: ${[...this.byType.keys()].join(", ")}`);
    return def;
  }

  /** The latest version, by name, case-insensitively (`implementationrun` finds ImplementationRun). */
  named(name: string): WorkflowDefinition | undefined {
    return this.byName.get(name) ?? [...this.byName.values()].find((d) => d.name.toLowerCase() === name.toLowerCase());
  }

  /** The latest version of each workflow: what deploy puts on Step Functions (one state machine per workflow name). */
  latest(): WorkflowDefinition[] {
    return [...this.byName.values()];
  }

  /** Exactly the definition a run started under, if this build has it. */
  at(name: string, version: number): WorkflowDefinition | undefined {
    return this.byVersion.get(versionKey(name, version));
  }
}

function versionKey(name: string, version: number): string {
  return `${name}@${version}`;
}
