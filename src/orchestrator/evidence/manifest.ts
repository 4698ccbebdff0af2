// The evidence manifest: what a run produced and decided, taken from its run record, with the Merkle root over its artifacts.
import { hash } from "node:crypto";
import canonicalize from "canonicalize";
import { z } from "zod";
import { Sha256Hex } from "../artifacts/port.js";
import type { RunRecord } from "../ledger/port.js";
import { artifactMerkleRoot } from "./merkle.js";

export const MANIFEST_SCHEMA = "https://scintilla.dev/evidence/manifest/v1";

export const EvidenceManifest = z.object({
  schema: z.literal(MANIFEST_SCHEMA),
  run_id: z.string(),
  run_type: z.string(),
  status: z.string(),
  repo_scope: z.string(),
  source: z.object({ event_id: z.string(), origin: z.string(), subjects: z.array(z.string()) }),
  inputs: z.record(z.string(), z.unknown()),
  policy_version: z.string(),
  artifacts: z.array(
    z.object({ name: z.string(), sha256: Sha256Hex, size: z.number().int().nonnegative(), media_type: z.string(), producer_step: z.string().optional(), seq: z.number().int() }),
  ),
  gate_results: z.array(
    z.object({ gate: z.string(), passed: z.boolean(), step: z.string().optional(), exit_code: z.number().int().optional(), output_sha256: z.optional(Sha256Hex), seq: z.number().int(), at: z.string() }),
  ),
  /** Provider, model, tokens and cost only: prompts and completions never leave the model gateway. */
  model_calls: z.array(
    z.object({
      provider: z.string(),
      model: z.string(),
      input_tokens: z.number(),
      output_tokens: z.number(),
      cost_usd: z.number(),
      step: z.string().optional(),
      role: z.string().optional(),
      seq: z.number().int(),
      at: z.string(),
    }),
  ),
  approvals: z.array(z.object({ decision: z.string(), by: z.string(), via: z.string(), item: z.string().optional(), seq: z.number().int(), at: z.string() })),
  totals: z.object({ input_tokens: z.number(), output_tokens: z.number(), cost_usd: z.number() }),
  /** The ledger entry the bundle was made at: entries up to it are covered, and truncation below it is detectable. */
  ledger: z.object({ head_seq: z.number().int(), head_hash: Sha256Hex }),
  /** RFC 6962 root over the artifacts' sha256 digests, in manifest order. */
  merkle_root: Sha256Hex,
  /** When the run was created, and when this manifest was made. */
  started_at: z.string(),
  created_at: z.string(),
});
export type EvidenceManifest = z.infer<typeof EvidenceManifest>;

const pick = <T extends object, K extends keyof T>(o: T, keys: readonly K[]): Pick<T, K> =>
  Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]])) as Pick<T, K>;

/** The manifest of `record` at its current head; fields are copied by name so nothing unlisted (e.g. a prompt) slips in. */
export function buildManifest(record: RunRecord, now: Date): EvidenceManifest {
  const artifacts = record.artifacts.map((a) => pick(a, ["name", "sha256", "size", "media_type", "producer_step", "seq"]));
  return {
    schema: MANIFEST_SCHEMA,
    run_id: record.run_id,
    run_type: record.run_type,
    status: record.status,
    repo_scope: record.repo_scope,
    source: { event_id: record.source.event_id, origin: record.source.origin, subjects: record.subjects },
    inputs: record.inputs,
    policy_version: record.policy_version,
    artifacts,
    gate_results: record.gate_results.map((g) => pick(g, ["gate", "passed", "step", "exit_code", "output_sha256", "seq", "at"])),
    model_calls: record.model_calls.map((m) => pick(m, ["provider", "model", "input_tokens", "output_tokens", "cost_usd", "step", "role", "seq", "at"])),
    approvals: record.approvals.map((a) => pick(a, ["decision", "by", "via", "item", "seq", "at"])),
    totals: record.totals,
    ledger: { head_seq: record.head.seq, head_hash: record.head.hash },
    merkle_root: artifactMerkleRoot(artifacts.map((a) => a.sha256)),
    started_at: record.created_at,
    created_at: now.toISOString(),
  };
}

/** The manifest's digest: sha256 of its RFC 8785 canonical JSON. */
export function manifestDigest(manifest: EvidenceManifest): string {
  return hash("sha256", canonicalize(manifest)!);
}
