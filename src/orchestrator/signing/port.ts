// The signing port: signs evidence bundles with a key whose public half anyone can fetch and check.
import { createPublicKey, hash, verify as cryptoVerify } from "node:crypto";
import { z } from "zod";

/** Signature schemes a bundle may use; each maps to one node:crypto verify call. */
export const SigningAlgorithm = z.enum(["ed25519", "ecdsa-p256-sha256", "ecdsa-p384-sha384"]);
export type SigningAlgorithm = z.infer<typeof SigningAlgorithm>;

/** A published public key (the well-known signing-keys document lists these). */
export const PublicKeyRecord = z.object({
  /** sha256 (hex) of the DER SubjectPublicKeyInfo: the same bytes give the same id anywhere. */
  keyid: z.string().regex(/^[0-9a-f]{64}$/),
  algorithm: SigningAlgorithm,
  /** SPKI PEM. */
  public_key: z.string().startsWith("-----BEGIN PUBLIC KEY-----"),
  /** Where the private half lives, for people: "local" or the KMS key ARN. */
  source: z.string(),
});
export type PublicKeyRecord = z.infer<typeof PublicKeyRecord>;

export const SigningKeys = z.object({ keys: z.array(PublicKeyRecord) });
export type SigningKeys = z.infer<typeof SigningKeys>;

export interface Signer {
  /** The key this signer signs with. */
  publicKey(): Promise<PublicKeyRecord>;
  /** Signs `message` (the DSSE PAE bytes); ECDSA signatures are DER-encoded. */
  sign(message: Uint8Array): Promise<Uint8Array>;
}

/** Key id for a DER SubjectPublicKeyInfo. */
export function keyIdOf(spkiDer: Uint8Array): string {
  return hash("sha256", spkiDer);
}

/** The record for an SPKI (DER) key of `algorithm`. */
export function publicKeyRecord(spkiDer: Uint8Array, algorithm: SigningAlgorithm, source: string): PublicKeyRecord {
  const key = createPublicKey({ key: Buffer.from(spkiDer), format: "der", type: "spki" });
  return { keyid: keyIdOf(spkiDer), algorithm, public_key: key.export({ format: "pem", type: "spki" }).toString(), source };
}

/** ECDSA curves (node:crypto's names) and the algorithm each signs with. */
const curveAlgorithms: Record<string, SigningAlgorithm> = { prime256v1: "ecdsa-p256-sha256", secp384r1: "ecdsa-p384-sha384" };

/** The record for a public key given as PEM (SPKI), its algorithm read from the key; throws naming what is wrong. */
export function publicKeyRecordFromPem(pem: string, source: string): PublicKeyRecord {
  const key = createPublicKey(pem);
  const curve = key.asymmetricKeyDetails?.namedCurve;
  const algorithm = key.asymmetricKeyType === "ed25519" ? "ed25519" : key.asymmetricKeyType === "ec" && curve ? curveAlgorithms[curve] : undefined;
  if (!algorithm) throw new Error(`${source} holds a ${key.asymmetricKeyType ?? "unknown"}${curve ? ` ${curve}` : ""} key; evidence is signed with ed25519, ECDSA P-256 or ECDSA P-384 keys`);
  return publicKeyRecord(key.export({ format: "der", type: "spki" }), algorithm, source);
}

/** True when `signature` over `message` verifies with `key`. */
export function verifySignature(key: PublicKeyRecord, message: Uint8Array, signature: Uint8Array): boolean {
  const pub = createPublicKey(key.public_key);
  const digest = key.algorithm === "ed25519" ? null : key.algorithm === "ecdsa-p256-sha256" ? "sha256" : "sha384";
  try {
    return cryptoVerify(digest, message, pub, signature);
  } catch {
    return false;
  }
}
