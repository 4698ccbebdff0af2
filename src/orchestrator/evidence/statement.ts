// The signed statement: an in-toto Statement v1 whose subjects are the manifest and the artifacts, with a SLSA Provenance v1 predicate.
import { z } from "zod";
import type { EvidenceManifest } from "./manifest.js";

export const STATEMENT_TYPE = "https://in-toto.io/Statement/v1";
export const SLSA_PROVENANCE_V1 = "https://slsa.dev/provenance/v1";
export const IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json";
/** Names the build type, i.e. how to read externalParameters (documented in docs/evidence.md). */
export const BUILD_TYPE = "https://scintilla.dev/orchestrator/run/v1";
export const MANIFEST_SUBJECT = "evidence-manifest.json";
export const MANIFEST_MEDIA_TYPE = "application/vnd.scintilla.evidence-manifest.v1+json";

const ResourceDescriptor = z.object({
  name: z.string().optional(),
  digest: z.record(z.string(), z.string()).optional(),
  mediaType: z.string().optional(),
  uri: z.string().optional(),
});

export const Statement = z.object({
  _type: z.literal(STATEMENT_TYPE),
  subject: z.array(ResourceDescriptor.extend({ name: z.string(), digest: z.object({ sha256: z.string() }) })).min(1),
  predicateType: z.literal(SLSA_PROVENANCE_V1),
  predicate: z.object({
    buildDefinition: z.object({
      buildType: z.string(),
      externalParameters: z.record(z.string(), z.unknown()),
      internalParameters: z.record(z.string(), z.unknown()).optional(),
      resolvedDependencies: z.array(ResourceDescriptor).optional(),
    }),
    runDetails: z.object({
      builder: z.object({ id: z.string(), version: z.record(z.string(), z.string()).optional() }),
      metadata: z.object({ invocationId: z.string(), startedOn: z.string(), finishedOn: z.string() }).partial().optional(),
      byproducts: z.array(ResourceDescriptor).optional(),
    }),
  }),
});
export type Statement = z.infer<typeof Statement>;

export interface BuilderInfo {
  /** URI of this orchestrator deployment (PUBLIC_URL when set). */
  readonly id: string;
  readonly version: string;
}

/** The statement for `manifest` whose canonical digest is `digest`. */
export function provenanceStatement(manifest: EvidenceManifest, digest: string, builder: BuilderInfo): Statement {
  return {
    _type: STATEMENT_TYPE,
    subject: [
      { name: MANIFEST_SUBJECT, digest: { sha256: digest }, mediaType: MANIFEST_MEDIA_TYPE },
      ...manifest.artifacts.map((a) => ({ name: a.name, digest: { sha256: a.sha256 }, mediaType: a.media_type })),
    ],
    predicateType: SLSA_PROVENANCE_V1,
    predicate: {
      buildDefinition: {
        buildType: BUILD_TYPE,
        externalParameters: { run_type: manifest.run_type, repo_scope: manifest.repo_scope, source: manifest.source, inputs: manifest.inputs },
        internalParameters: { policy_version: manifest.policy_version, ledger: manifest.ledger, merkle_root: manifest.merkle_root },
      },
      runDetails: {
        builder: { id: builder.id, version: { "scintilla-orchestrator": builder.version } },
        metadata: { invocationId: manifest.run_id, startedOn: manifest.started_at, finishedOn: manifest.created_at },
      },
    },
  };
}
