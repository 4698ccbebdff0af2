// The AWS signer: an asymmetric KMS key (ECC_NIST_P256 or P384) signs the digest of each message.
import { createHash } from "node:crypto";
import { GetPublicKeyCommand, SignCommand, type KMSClient } from "@aws-sdk/client-kms";
import { publicKeyRecord, type PublicKeyRecord, type Signer, type SigningAlgorithm } from "./port.js";

/*
 * KMS signs at most 4096 raw bytes, and a signed statement can be larger, so we hash locally
 * and send MessageType DIGEST. That rules out KMS ed25519 keys (pure Ed25519 needs the raw
 * message; the pre-hashed Ed25519ph variant is not verifiable with node:crypto), hence ECDSA.
 */
const supported: Record<string, { kms: "ECDSA_SHA_256" | "ECDSA_SHA_384"; hash: "sha256" | "sha384"; algorithm: SigningAlgorithm }> = {
  ECC_NIST_P256: { kms: "ECDSA_SHA_256", hash: "sha256", algorithm: "ecdsa-p256-sha256" },
  ECC_NIST_P384: { kms: "ECDSA_SHA_384", hash: "sha384", algorithm: "ecdsa-p384-sha384" },
};

export interface KmsSignerOptions {
  readonly client: KMSClient;
  /** Key id, ARN or alias of a SIGN_VERIFY key. */
  readonly keyId: string;
}

export function kmsSigner({ client, keyId }: KmsSignerOptions): Signer {
  let described: Promise<{ record: PublicKeyRecord; spec: (typeof supported)[string] }> | undefined;
  const describe = () =>
    (described ??= (async () => {
      const out = await client.send(new GetPublicKeyCommand({ KeyId: keyId }));
      const spec = supported[out.KeySpec ?? ""];
      if (out.KeyUsage !== "SIGN_VERIFY" || !spec || !out.PublicKey)
        throw new Error(
          `KMS key ${keyId} is ${out.KeySpec ?? "unknown"} with usage ${out.KeyUsage ?? "unknown"}; evidence signing needs an asymmetric SIGN_VERIFY key of spec ${Object.keys(supported).join(" or ")} (KMS_SIGNING_KEY_ID)`,
        );
      return { record: publicKeyRecord(out.PublicKey, spec.algorithm, out.KeyId ?? keyId), spec };
    })().catch((err: unknown) => {
      described = undefined; // try again next time (e.g. KMS was briefly unreachable)
      throw err;
    }));
  return {
    async publicKey() {
      return (await describe()).record;
    },
    async sign(message) {
      const { spec, record } = await describe();
      const digest = createHash(spec.hash).update(message).digest();
      const out = await client.send(new SignCommand({ KeyId: record.source, Message: digest, MessageType: "DIGEST", SigningAlgorithm: spec.kms }));
      if (!out.Signature) throw new Error(`KMS returned no signature for key ${keyId}`);
      return out.Signature;
    },
  };
}
