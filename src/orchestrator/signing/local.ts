// The embedded signer: an ed25519 key kept in DATA_DIR/keys, created on first start.
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { publicKeyRecord, type PublicKeyRecord, type Signer } from "./port.js";

export const LOCAL_KEY_FILE = path.join("keys", "evidence-signing-ed25519.pem");

/** Loads the key at `dataDir/keys/…`, creating it (mode 0600, never overwritten) when absent. */
export function localSigner(dataDir: string): Signer {
  const file = path.join(dataDir, LOCAL_KEY_FILE);
  const key = loadOrCreate(file);
  const spki = createPublicKey(key).export({ format: "der", type: "spki" });
  const record = publicKeyRecord(spki, "ed25519", "local");
  return {
    async publicKey(): Promise<PublicKeyRecord> {
      return record;
    },
    async sign(message) {
      return sign(null, message, key);
    },
  };
}

function loadOrCreate(file: string): KeyObject {
  let pem: string;
  try {
    pem = readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const { privateKey } = generateKeyPairSync("ed25519");
    try {
      // "wx": if another process created it first, use theirs.
      writeFileSync(file, privateKey.export({ format: "pem", type: "pkcs8" }), { flag: "wx", mode: 0o600 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    pem = readFileSync(file, "utf8");
  }
  const key = createPrivateKey(pem);
  if (key.asymmetricKeyType !== "ed25519") throw new Error(`${file} holds a ${key.asymmetricKeyType} key; the local evidence signer needs ed25519 (move the file away to create a new key)`);
  return key;
}
