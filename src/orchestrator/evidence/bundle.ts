// Evidence bundles: sign a manifest as a DSSE-enveloped in-toto statement, and verify a bundle against trusted keys.
import canonicalize from "canonicalize";
import { z } from "zod";
import { verifySignature, type PublicKeyRecord, type Signer } from "../signing/port.js";
import { DsseEnvelope, pae } from "./dsse.js";
import { EvidenceManifest, manifestDigest } from "./manifest.js";
import { artifactMerkleRoot } from "./merkle.js";
import { IN_TOTO_PAYLOAD_TYPE, MANIFEST_SUBJECT, provenanceStatement, Statement, type BuilderInfo } from "./statement.js";

export const BUNDLE_MEDIA_TYPE = "application/vnd.scintilla.evidence.bundle.v1+json";

export const EvidenceBundle = z.object({
  mediaType: z.literal(BUNDLE_MEDIA_TYPE),
  /** The manifest in full; the signed statement names its digest. */
  manifest: EvidenceManifest,
  dsseEnvelope: DsseEnvelope,
});
export type EvidenceBundle = z.infer<typeof EvidenceBundle>;

/** Signs `manifest`: the statement is serialized once (canonical JSON) and those exact bytes are the DSSE payload. */
export async function signManifest(manifest: EvidenceManifest, signer: Signer, builder: BuilderInfo): Promise<EvidenceBundle> {
  const statement = provenanceStatement(manifest, manifestDigest(manifest), builder);
  const payload = Buffer.from(canonicalize(statement)!, "utf8");
  const key = await signer.publicKey();
  const sig = await signer.sign(pae(IN_TOTO_PAYLOAD_TYPE, payload));
  return {
    mediaType: BUNDLE_MEDIA_TYPE,
    manifest,
    dsseEnvelope: { payloadType: IN_TOTO_PAYLOAD_TYPE, payload: payload.toString("base64"), signatures: [{ keyid: key.keyid, sig: Buffer.from(sig).toString("base64") }] },
  };
}

export interface BundleCheck {
  readonly ok: boolean;
  /** What is wrong, one line each; empty when ok. */
  readonly problems: string[];
  /** The key that verified the signature. */
  readonly keyid?: string;
  readonly manifest?: EvidenceManifest;
}

/** Checks signature (against `trusted` keys only), statement shape, manifest digest, subjects and Merkle root. */
export function verifyBundle(input: unknown, trusted: readonly PublicKeyRecord[]): BundleCheck {
  const parsed = EvidenceBundle.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, problems: [`not an evidence bundle: ${issue?.path.join(".") || "(root)"} ${issue?.message ?? "is invalid"}`] };
  }
  const { manifest, dsseEnvelope: env } = parsed.data;
  const problems: string[] = [];
  if (env.payloadType !== IN_TOTO_PAYLOAD_TYPE) problems.push(`payloadType is ${env.payloadType}, expected ${IN_TOTO_PAYLOAD_TYPE}`);
  const payload = Buffer.from(env.payload, "base64");
  const message = pae(env.payloadType, payload);
  let keyid: string | undefined;
  for (const s of env.signatures) {
    const key = trusted.find((k) => k.keyid === s.keyid);
    if (key && verifySignature(key, message, Buffer.from(s.sig, "base64"))) {
      keyid = key.keyid;
      break;
    }
  }
  if (!keyid) {
    const ids = env.signatures.map((s) => s.keyid).join(", ");
    problems.push(
      trusted.some((k) => env.signatures.some((s) => s.keyid === k.keyid))
        ? `signature by ${ids} does not verify: the statement or signature was altered`
        : `signed by ${ids}, which is not a trusted key (trusted: ${trusted.map((k) => k.keyid).join(", ") || "none"})`,
    );
  }
  let statement: Statement | undefined;
  try {
    const s = Statement.safeParse(JSON.parse(payload.toString("utf8")));
    if (s.success) statement = s.data;
    else problems.push(`payload is not an in-toto v1 statement with a SLSA provenance v1 predicate: ${s.error.issues[0]?.path.join(".")} ${s.error.issues[0]?.message}`);
  } catch {
    problems.push("payload is not JSON");
  }
  if (statement) {
    const [first, ...rest] = statement.subject;
    const digest = manifestDigest(manifest);
    if (first?.name !== MANIFEST_SUBJECT || first.digest.sha256 !== digest)
      problems.push(`manifest digest ${digest} is not the one signed (${first?.digest.sha256 ?? "none"}): the manifest was altered`);
    const listed = manifest.artifacts.map((a) => `${a.name}@${a.sha256}`).join("\n");
    const signed = rest.map((s) => `${s.name}@${s.digest.sha256}`).join("\n");
    if (listed !== signed) problems.push("the manifest's artifacts differ from the signed subjects");
  }
  const root = artifactMerkleRoot(manifest.artifacts.map((a) => a.sha256));
  if (root !== manifest.merkle_root) problems.push(`merkle_root ${manifest.merkle_root} does not match the artifacts (${root})`);
  return { ok: problems.length === 0, problems, ...(keyid ? { keyid } : {}), manifest };
}
