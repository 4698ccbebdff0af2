// The local ed25519 signer (key made in the data dir once) and the KMS signer's requests, against a mocked KMS.
import { createHash, generateKeyPairSync, sign } from "node:crypto";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { GetPublicKeyCommand, KMSClient, SignCommand } from "@aws-sdk/client-kms";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { kmsSigner } from "../../../src/orchestrator/signing/kms.js";
import { LOCAL_KEY_FILE, localSigner } from "../../../src/orchestrator/signing/local.js";
import { keyIdOf, publicKeyRecordFromPem, verifySignature } from "../../../src/orchestrator/signing/port.js";

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(path.join(tmpdir(), "signing-"));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("local ed25519 signer", () => {
  it("creates a private key readable only by us on first start and reuses it afterwards", async () => {
    const dir = tempDir();
    const first = localSigner(dir);
    const file = path.join(dir, LOCAL_KEY_FILE);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const again = localSigner(dir);
    const key = await first.publicKey();
    expect(await again.publicKey()).toEqual(key);
    expect(key).toMatchObject({ algorithm: "ed25519", source: "local" });
    const message = Buffer.from("DSSEv1 28 application/vnd.in-toto+json 2 {}");
    const sig = await again.sign(message);
    expect(verifySignature(key, message, sig)).toBe(true);
    expect(verifySignature(key, Buffer.concat([message, Buffer.from(" ")]), sig)).toBe(false);
  });

  it("refuses a key file of the wrong type, saying what to do", () => {
    const dir = tempDir();
    const file = path.join(dir, LOCAL_KEY_FILE);
    localSigner(dir);
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    writeFileSync(file, privateKey.export({ format: "pem", type: "pkcs8" }));
    expect(() => localSigner(dir)).toThrow(/needs ed25519 \(move the file away/);
  });
});

describe("KMS signer", () => {
  const kms = mockClient(KMSClient);
  afterEach(() => kms.reset());
  const arn = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

  it("signs the sha256 digest with ECDSA_SHA_256 and publishes the key KMS reports", async () => {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const spki = publicKey.export({ format: "der", type: "spki" });
    const message = Buffer.from("DSSEv1 28 application/vnd.in-toto+json 13 {\"_type\":\"x\"}");
    kms.on(GetPublicKeyCommand).resolves({ KeyId: arn, KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY", PublicKey: spki, SigningAlgorithms: ["ECDSA_SHA_256"] });
    // KMS signs the digest it is given; a real signature over the same message stands in for its answer.
    kms.on(SignCommand).resolves({ KeyId: arn, Signature: sign("sha256", message, privateKey), SigningAlgorithm: "ECDSA_SHA_256" });

    const signer = kmsSigner({ client: new KMSClient({ region: "eu-west-1" }), keyId: "alias/evidence" });
    const key = await signer.publicKey();
    expect(key).toMatchObject({ keyid: keyIdOf(spki), algorithm: "ecdsa-p256-sha256", source: arn });
    const sig = await signer.sign(message);
    expect(verifySignature(key, message, sig)).toBe(true);

    expect(kms.commandCalls(GetPublicKeyCommand)[0]!.args[0].input).toEqual({ KeyId: "alias/evidence" });
    expect(kms.commandCalls(SignCommand)[0]!.args[0].input).toEqual({
      KeyId: arn,
      Message: createHash("sha256").update(message).digest(),
      MessageType: "DIGEST",
      SigningAlgorithm: "ECDSA_SHA_256",
    });
    await signer.sign(message);
    expect(kms.commandCalls(GetPublicKeyCommand)).toHaveLength(1);
  });

  it("rejects keys it cannot use, naming the setting", async () => {
    kms.on(GetPublicKeyCommand).resolves({ KeyId: arn, KeySpec: "RSA_2048", KeyUsage: "SIGN_VERIFY", PublicKey: new Uint8Array(4) });
    const signer = kmsSigner({ client: new KMSClient({ region: "eu-west-1" }), keyId: arn });
    await expect(signer.publicKey()).rejects.toThrow(/RSA_2048.*ECC_NIST_P256 or ECC_NIST_P384 \(KMS_SIGNING_KEY_ID\)/);
    kms.on(GetPublicKeyCommand).resolves({ KeyId: arn, KeySpec: "ECC_NIST_EDWARDS25519", KeyUsage: "SIGN_VERIFY", PublicKey: new Uint8Array(4) });
    await expect(signer.publicKey()).rejects.toThrow(/ECC_NIST_EDWARDS25519/);
  });
});

describe("public key PEM", () => {
  it("reads the algorithm from the key, so a given PEM verifies what its private half signed", () => {
    const message = Buffer.from("DSSEv1 4 test 2 hi");
    const ec = generateKeyPairSync("ec", { namedCurve: "secp384r1" });
    const record = publicKeyRecordFromPem(ec.publicKey.export({ format: "pem", type: "spki" }).toString(), "p384.pem");
    expect(record.algorithm).toBe("ecdsa-p384-sha384");
    expect(record.keyid).toBe(keyIdOf(ec.publicKey.export({ format: "der", type: "spki" })));
    expect(verifySignature(record, message, sign("sha384", message, ec.privateKey))).toBe(true);
    const ed = generateKeyPairSync("ed25519");
    expect(publicKeyRecordFromPem(ed.publicKey.export({ format: "pem", type: "spki" }).toString(), "ed.pem").algorithm).toBe("ed25519");
    const k1 = generateKeyPairSync("ec", { namedCurve: "secp256k1" }).publicKey.export({ format: "pem", type: "spki" }).toString();
    expect(() => publicKeyRecordFromPem(k1, "k1.pem")).toThrow(/k1\.pem holds a ec secp256k1 key; evidence is signed with ed25519, ECDSA P-256 or ECDSA P-384 keys/);
  });
});
