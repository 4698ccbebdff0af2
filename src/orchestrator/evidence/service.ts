// Makes and checks a run's evidence bundle from the ledger, the artifact store and the signer.
import type { ArtifactStore, StoredArtifact } from "../artifacts/port.js";
import { LedgerInputError, type EntryPayload, type Ledger } from "../ledger/port.js";
import type { PublicKeyRecord, Signer } from "../signing/port.js";
import { BUNDLE_MEDIA_TYPE, EvidenceBundle, signManifest, verifyBundle, type BundleCheck } from "./bundle.js";
import { buildManifest, manifestDigest } from "./manifest.js";
import type { BuilderInfo } from "./statement.js";

export interface EvidenceDeps {
  readonly ledger: Ledger;
  readonly artifacts: ArtifactStore;
  readonly signer: Signer;
  readonly builder: BuilderInfo;
  /** Keys trusted besides the signer's own (e.g. keys rotated out). */
  readonly trustedKeys?: readonly PublicKeyRecord[];
  readonly now?: () => Date;
}

export interface SealedEvidence {
  readonly bundle: EvidenceBundle;
  readonly stored: StoredArtifact;
}

export interface EvidenceService {
  /** Builds, signs and stores the bundle for the run at its current head, then records evidence_signed in the ledger. */
  seal(runId: string): Promise<SealedEvidence>;
  /** The run's most recently sealed bundle, read verified from the artifact store; undefined when none. */
  latest(runId: string): Promise<EvidenceBundle | undefined>;
  /** Bundle checks (against `keys`, default the trusted keys) plus, where this orchestrator holds the run: the ledger still has the signed head, and every artifact is present and intact. */
  verify(bundle: unknown, keys?: readonly PublicKeyRecord[]): Promise<BundleCheck>;
  /** The keys bundles are checked against (published at the well-known path). */
  trustedKeys(): Promise<PublicKeyRecord[]>;
}

export function evidenceService(deps: EvidenceDeps): EvidenceService {
  const now = deps.now ?? (() => new Date());
  const trustedKeys = async () => [await deps.signer.publicKey(), ...(deps.trustedKeys ?? [])];

  return {
    async seal(runId) {
      const record = await deps.ledger.run(runId);
      if (!record) throw new LedgerInputError(`no run ${runId} in the ledger`);
      for (const a of record.artifacts) {
        const info = await deps.artifacts.stat(a.sha256);
        if (!info) throw new LedgerInputError(`${runId}: artifact ${a.name} (sha256/${a.sha256}) is not in the artifact store; it cannot be sealed`);
        if (info.size !== a.size) throw new LedgerInputError(`${runId}: artifact ${a.name} is ${info.size} bytes in the store but the ledger says ${a.size}`);
      }
      const bundle = await signManifest(buildManifest(record, now()), deps.signer, deps.builder);
      const bytes = Buffer.from(JSON.stringify(bundle, null, 2) + "\n");
      const stored = await deps.artifacts.put(bytes, { name: `evidence-${runId}.json`, media_type: BUNDLE_MEDIA_TYPE, run_id: runId, producer_step: "evidence" });
      const key = await deps.signer.publicKey();
      await deps.ledger.append([
        {
          runId,
          expectedSeq: record.head.seq + 1,
          entries: [
            {
              type: "evidence_signed",
              payload: { manifest_sha256: manifestDigest(bundle.manifest), merkle_root: bundle.manifest.merkle_root, bundle_sha256: stored.sha256, key_id: key.keyid },
            },
          ],
        },
      ]);
      return { bundle, stored };
    },
    async latest(runId) {
      const entries = await deps.ledger.entries(runId);
      const last = entries.filter((e) => e.type === "evidence_signed").at(-1);
      if (!last) return undefined;
      const { bundle_sha256 } = last.payload as EntryPayload<"evidence_signed">;
      return EvidenceBundle.parse(JSON.parse((await deps.artifacts.read(bundle_sha256)).toString("utf8")));
    },
    async verify(input, keys) {
      const check = verifyBundle(input, keys ?? (await trustedKeys()));
      const m = check.manifest;
      if (!m) return check;
      const problems = [...check.problems];
      const entries = await deps.ledger.entries(m.run_id, m.ledger.head_seq);
      if (entries.length > 0 || (await deps.ledger.run(m.run_id))) {
        const at = entries[0];
        if (!at || at.seq !== m.ledger.head_seq) problems.push(`the ledger of ${m.run_id} no longer has seq ${m.ledger.head_seq}, which the bundle signed (ledger truncated)`);
        else if (at.hash !== m.ledger.head_hash) problems.push(`ledger entry ${m.run_id} seq ${m.ledger.head_seq} hashes to ${at.hash}, the bundle signed ${m.ledger.head_hash} (ledger rewritten)`);
        const report = await deps.ledger.verify({ runId: m.run_id });
        if (!report.ok) problems.push(`ledger of ${m.run_id}: seq ${report.problem.seq}: ${report.problem.message}`);
        for (const a of m.artifacts) {
          try {
            // Streamed and discarded: the store verifies the digest on the way out, memory stays flat.
            for await (const chunk of await deps.artifacts.stream(a.sha256)) void chunk;
          } catch (err) {
            problems.push(`artifact ${a.name}: ${err instanceof Error ? err.message : String(err)}`);
          }
        }
      }
      return { ...check, ok: problems.length === 0, problems };
    },
    trustedKeys,
  };
}
