#!/usr/bin/env node
// Verifies a Scintilla Orchestrator evidence bundle with node:crypto only: no orchestrator, no dependencies.
/* global process, fetch, Buffer */
// Usage: node verify-evidence.mjs BUNDLE.json --keys KEYS [--files DIR]
//   KEYS   signing-keys.json (as served at /.well-known/orchestrator/signing-keys.json), its URL, or a public key PEM
//   DIR    optional directory holding artifacts by name; each one present is hashed and compared
// Exit 0: valid. Exit 1: invalid (each problem printed). Exit 2: bad usage or unreadable input.
import { createHash, createPublicKey, verify } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

const sha256 = (...parts) => parts.reduce((h, p) => h.update(p), createHash("sha256")).digest();

// RFC 8785 (JCS) for JSON data: sorted keys (UTF-16 order), ECMAScript number and string forms.
function canonical(v) {
  if (v === null || typeof v !== "object") {
    if (typeof v === "number" && !Number.isFinite(v)) throw new Error("non-finite number");
    return JSON.stringify(v);
  }
  if (Array.isArray(v)) return `[${v.map((x) => canonical(x ?? null)).join(",")}]`;
  const keys = Object.keys(v).filter((k) => v[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(",")}}`;
}

// RFC 6962 Merkle tree hash: leaf = H(0x00 || data), node = H(0x01 || left || right).
function merkleRoot(leaves) {
  if (leaves.length === 0) return sha256(Buffer.alloc(0));
  const tree = (hs) => {
    if (hs.length === 1) return hs[0];
    let k = 1;
    while (k * 2 < hs.length) k *= 2;
    return sha256(Buffer.of(1), tree(hs.slice(0, k)), tree(hs.slice(k)));
  };
  return tree(leaves.map((l) => sha256(Buffer.of(0), l)));
}

// DSSE v1 pre-authentication encoding.
function pae(type, body) {
  const t = Buffer.from(type, "utf8");
  return Buffer.concat([Buffer.from(`DSSEv1 ${t.length} `), t, Buffer.from(` ${body.length} `), body]);
}

const DIGESTS = { ed25519: null, "ecdsa-p256-sha256": "sha256", "ecdsa-p384-sha384": "sha384" };
const CURVES = { prime256v1: "ecdsa-p256-sha256", secp384r1: "ecdsa-p384-sha384" };

async function loadKeys(source) {
  const text = /^https?:\/\//.test(source) ? await (await fetch(source)).text() : readFileSync(source, "utf8");
  if (text.includes("-----BEGIN PUBLIC KEY-----") && !text.trimStart().startsWith("{")) {
    const key = createPublicKey(text);
    const spki = key.export({ format: "der", type: "spki" });
    const curve = key.asymmetricKeyDetails?.namedCurve;
    const algorithm = key.asymmetricKeyType === "ed25519" ? "ed25519" : key.asymmetricKeyType === "ec" ? CURVES[curve] : undefined;
    if (!algorithm) throw new Error(`${source} holds a ${key.asymmetricKeyType}${curve ? ` ${curve}` : ""} key; evidence is signed with ed25519, ECDSA P-256 or ECDSA P-384 keys`);
    return [{ keyid: sha256(spki).toString("hex"), algorithm, public_key: text }];
  }
  return JSON.parse(text).keys;
}

function check(bundle, keys, filesDir) {
  const problems = [];
  if (bundle.mediaType !== "application/vnd.scintilla.evidence.bundle.v1+json") problems.push(`mediaType is ${bundle.mediaType}, not an evidence bundle v1`);
  const env = bundle.dsseEnvelope ?? {};
  const manifest = bundle.manifest ?? {};
  if (env.payloadType !== "application/vnd.in-toto+json") problems.push(`payloadType is ${env.payloadType}, expected application/vnd.in-toto+json`);
  const payload = Buffer.from(env.payload ?? "", "base64");
  // 1. The signature, over PAE(payloadType, payload), by a key we were given.
  const message = pae(env.payloadType ?? "", payload);
  const good = (env.signatures ?? []).find((s) => {
    const key = keys.find((k) => k.keyid === s.keyid);
    if (!key || !(key.algorithm in DIGESTS)) return false;
    try {
      return verify(DIGESTS[key.algorithm], message, createPublicKey(key.public_key), Buffer.from(s.sig, "base64"));
    } catch {
      return false;
    }
  });
  if (!good) problems.push(`no signature verifies with the given keys (signed by: ${(env.signatures ?? []).map((s) => s.keyid).join(", ") || "nobody"})`);
  // 2. The statement: in-toto v1 + SLSA provenance v1, first subject = the manifest's canonical digest.
  let statement;
  try {
    statement = JSON.parse(payload.toString("utf8"));
  } catch {
    problems.push("payload is not JSON");
  }
  const artifacts = Array.isArray(manifest.artifacts) ? manifest.artifacts : [];
  if (statement) {
    if (statement._type !== "https://in-toto.io/Statement/v1") problems.push(`_type is ${statement._type}`);
    if (statement.predicateType !== "https://slsa.dev/provenance/v1") problems.push(`predicateType is ${statement.predicateType}`);
    const [first, ...rest] = statement.subject ?? [];
    const digest = sha256(canonical(manifest)).toString("hex");
    if (first?.name !== "evidence-manifest.json" || first?.digest?.sha256 !== digest) problems.push(`manifest digest ${digest} is not the signed one (${first?.digest?.sha256})`);
    const signed = rest.map((s) => `${s.name}@${s.digest?.sha256}`).join("\n");
    if (signed !== artifacts.map((a) => `${a.name}@${a.sha256}`).join("\n")) problems.push("manifest artifacts differ from the signed subjects");
  }
  // 3. The Merkle root over the artifact digests, in manifest order.
  const root = merkleRoot(artifacts.map((a) => Buffer.from(a.sha256, "hex"))).toString("hex");
  if (root !== manifest.merkle_root) problems.push(`merkle_root ${manifest.merkle_root} does not match the artifacts (${root})`);
  // 4. Optionally, artifact files at hand.
  let checkedFiles = 0;
  if (filesDir) {
    for (const a of artifacts) {
      const file = path.join(filesDir, path.basename(a.name));
      if (!existsSync(file)) continue;
      checkedFiles++;
      const actual = sha256(readFileSync(file)).toString("hex");
      if (actual !== a.sha256) problems.push(`file ${file} hashes to ${actual}, the manifest says ${a.sha256}`);
    }
  }
  return { problems, keyid: good?.keyid, manifest, checkedFiles };
}

async function main(argv) {
  const args = { files: undefined, keys: undefined, bundle: undefined };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--keys") args.keys = argv[++i];
    else if (argv[i] === "--files") args.files = argv[++i];
    else if (!args.bundle) args.bundle = argv[i];
    else return usage(`unexpected argument ${argv[i]}`);
  }
  if (!args.bundle || !args.keys) return usage("a bundle file and --keys are required");
  let bundle, keys;
  try {
    bundle = JSON.parse(readFileSync(args.bundle, "utf8"));
    keys = await loadKeys(args.keys);
  } catch (err) {
    process.stderr.write(`cannot read input: ${err.message}\n`);
    return 2;
  }
  const { problems, keyid, manifest, checkedFiles } = check(bundle, keys, args.files);
  if (problems.length > 0) {
    process.stdout.write(`INVALID evidence bundle ${args.bundle}\n${problems.map((p) => `  - ${p}`).join("\n")}\n`);
    return 1;
  }
  process.stdout.write(
    `OK evidence bundle for ${manifest.run_id}: signed by ${keyid}, ${manifest.artifacts.length} artifacts, merkle root ${manifest.merkle_root}, ` +
      `ledger head seq ${manifest.ledger?.head_seq}${args.files ? `, ${checkedFiles} files checked` : ""}\n`,
  );
  return 0;
}

function usage(why) {
  process.stderr.write(`${why}\nusage: node verify-evidence.mjs BUNDLE.json --keys signing-keys.json|URL|key.pem [--files DIR]\n`);
  return 2;
}

process.exitCode = await main(process.argv.slice(2));
