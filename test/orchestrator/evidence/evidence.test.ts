// Evidence bundles end to end: a real run in SQLite + files, sealed, verified here and by the standalone script.
import { execFile } from "node:child_process";
import { generateKeyPairSync, sign } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { DatabaseSync } from "node:sqlite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fileArtifactStore } from "../../../src/orchestrator/artifacts/files.js";
import type { ArtifactStore } from "../../../src/orchestrator/artifacts/port.js";
import { signManifest, verifyBundle, type EvidenceBundle } from "../../../src/orchestrator/evidence/bundle.js";
import { pae } from "../../../src/orchestrator/evidence/dsse.js";
import { buildManifest } from "../../../src/orchestrator/evidence/manifest.js";
import { merkleRoot } from "../../../src/orchestrator/evidence/merkle.js";
import { evidenceService, type EvidenceService } from "../../../src/orchestrator/evidence/service.js";
import { newRunId, type Ledger } from "../../../src/orchestrator/ledger/port.js";
import { sqliteLedger } from "../../../src/orchestrator/ledger/sqlite.js";
import { localSigner } from "../../../src/orchestrator/signing/local.js";
import { publicKeyRecord, type Signer } from "../../../src/orchestrator/signing/port.js";
import { openSqlite } from "../../../src/store/sqlite.js";

const run = promisify(execFile);
const script = path.resolve(import.meta.dirname, "../../../scripts/verify-evidence.mjs");

/** Runs the standalone verifier; resolves to its exit code and output. */
async function standalone(bundleFile: string, keysFile: string, extra: string[] = []): Promise<{ code: number; out: string }> {
  try {
    const { stdout } = await run(process.execPath, [script, bundleFile, "--keys", keysFile, ...extra]);
    return { code: 0, out: stdout };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}

describe("RFC 6962 Merkle tree and DSSE PAE", () => {
  it("matches the Certificate Transparency test vectors", () => {
    const leaves = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"].map((h) => Buffer.from(h, "hex"));
    const roots = [
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
      "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
      "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
      "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
      "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
      "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
      "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
      "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];
    roots.forEach((root, n) => expect(merkleRoot(leaves.slice(0, n)).toString("hex")).toBe(root));
  });

  it("encodes PAE as the DSSE spec's example", () => {
    expect(pae("http://example.com/HelloWorld", Buffer.from("hello world")).toString()).toBe("DSSEv1 29 http://example.com/HelloWorld 11 hello world");
  });
});

describe("evidence bundle of a run", () => {
  let dir: string;
  let db: DatabaseSync;
  let ledger: Ledger;
  let artifacts: ArtifactStore;
  let signer: Signer;
  let evidence: EvidenceService;
  let keysFile: string;
  let runId: string;
  let bundle: EvidenceBundle;
  let bundleFile: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "evidence-"));
    db = openSqlite(path.join(dir, "orchestrator.db"), { synchronous: "NORMAL" });
    ledger = sqliteLedger({ db });
    artifacts = fileArtifactStore(path.join(dir, "artifacts"));
    signer = localSigner(dir);
    evidence = evidenceService({ ledger, artifacts, signer, builder: { id: "https://orchestrator.example.com", version: "0.1.0" } });
    keysFile = path.join(dir, "signing-keys.json");
    writeFileSync(keysFile, JSON.stringify({ keys: await evidence.trustedKeys() }));

    runId = newRunId();
    const plan = await artifacts.put("# Plan\n", { name: "plan.md", media_type: "text/markdown", run_id: runId, producer_step: "plan" });
    const diff = await artifacts.put("diff --git a/x b/x\n", { name: "change.diff", media_type: "text/x-diff", run_id: runId, producer_step: "build" });
    await ledger.append([
      {
        runId,
        expectedSeq: 0,
        entries: [
          {
            type: "run_created",
            payload: { run_type: "impl_change", source: { event_id: "d-1", origin: "github", subjects: [{ kind: "jira", key: "ABC-7" }] }, repo_scope: "acme/api", inputs: { issue: 7 }, policy_version: "p1" },
          },
          { type: "model_call", payload: { provider: "anthropic", model: "claude", input_tokens: 900, output_tokens: 300, cost_usd: 0.02, step: "plan", request_sha256: "b".repeat(64) } },
          ...[plan, diff].map((a) => ({ type: "artifact_added" as const, payload: { sha256: a.sha256, name: a.name, size: a.size, media_type: a.media_type, producer_step: a.producer_step } })),
          { type: "gate_result", payload: { gate: "tests", passed: true, exit_code: 0 } },
          { type: "decision", payload: { decision: "approved", by: "octocat", via: "review", item: "Plan" } },
        ],
      },
    ]);
    const sealed = await evidence.seal(runId);
    bundle = sealed.bundle;
    bundleFile = path.join(dir, "bundle.json");
    writeFileSync(bundleFile, JSON.stringify(bundle));
  });
  afterAll(() => {
    db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("lists artifacts, gates, model calls without prompt data, approvals, the ledger head and the Merkle root", async () => {
    const m = bundle.manifest;
    expect(m.artifacts.map((a) => a.name)).toEqual(["plan.md", "change.diff"]);
    expect(m.merkle_root).toBe(merkleRoot(m.artifacts.map((a) => Buffer.from(a.sha256, "hex"))).toString("hex"));
    expect(m.model_calls).toEqual([{ provider: "anthropic", model: "claude", input_tokens: 900, output_tokens: 300, cost_usd: 0.02, step: "plan", seq: 1, at: expect.any(String) }]);
    expect(m.gate_results[0]).toMatchObject({ gate: "tests", passed: true });
    expect(m.approvals[0]).toMatchObject({ decision: "approved", by: "octocat", item: "Plan" });
    expect(m.ledger.head_seq).toBe(5);
    const statement = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, "base64").toString()) as Record<string, unknown>;
    expect(statement).toMatchObject({ _type: "https://in-toto.io/Statement/v1", predicateType: "https://slsa.dev/provenance/v1" });
    // The bundle is stored as an artifact and recorded in the ledger.
    const entries = await ledger.entries(runId);
    expect(entries.at(-1)!.type).toBe("evidence_signed");
    expect(await evidence.latest(runId)).toEqual(bundle);
  });

  it("verifies here and with the standalone script", async () => {
    expect(verifyBundle(bundle, await evidence.trustedKeys())).toMatchObject({ ok: true, problems: [] });
    expect(await evidence.verify(bundle)).toMatchObject({ ok: true, problems: [] });
    const filesDir = path.join(dir, "files");
    mkdirSync(filesDir);
    writeFileSync(path.join(filesDir, "plan.md"), "# Plan\n");
    const res = await standalone(bundleFile, keysFile, ["--files", filesDir]);
    expect(res.out).toMatch(new RegExp(`^OK evidence bundle for ${runId}: signed by [0-9a-f]{64}, 2 artifacts, .*1 files checked`));
    expect(res.code).toBe(0);
  });

  const flips: Array<[string, (b: EvidenceBundle) => void, RegExp]> = [
    ["an artifact digest in the manifest", (b) => (b.manifest.artifacts[0]!.sha256 = flipHex(b.manifest.artifacts[0]!.sha256)), /manifest digest|merkle_root/],
    ["a model call's cost", (b) => (b.manifest.model_calls[0]!.cost_usd = 0.002), /manifest digest/],
    ["a byte of the signed payload", (b) => (b.dsseEnvelope.payload = flipBase64(b.dsseEnvelope.payload)), /signature|not JSON|statement/],
    ["a byte of the signature", (b) => (b.dsseEnvelope.signatures[0]!.sig = flipBase64(b.dsseEnvelope.signatures[0]!.sig)), /signature/],
    ["the Merkle root", (b) => (b.manifest.merkle_root = flipHex(b.manifest.merkle_root)), /merkle_root|manifest digest/],
  ];
  it.each(flips)("fails when %s changes, here and in the standalone script", async (_what, flip, why) => {
    const bad = structuredClone(bundle);
    flip(bad);
    const check = verifyBundle(bad, await evidence.trustedKeys());
    expect(check.ok).toBe(false);
    expect(check.problems.join("\n")).toMatch(why);
    const file = path.join(dir, `bad-${Math.random()}.json`);
    writeFileSync(file, JSON.stringify(bad));
    const res = await standalone(file, keysFile);
    expect(res.code).toBe(1);
    expect(res.out).toMatch(/^INVALID/);
  });

  it("fails against a key it was not given", async () => {
    const other = localSigner(mkdtempSync(path.join(tmpdir(), "other-key-")));
    expect(verifyBundle(bundle, [await other.publicKey()]).problems.join()).toMatch(/not a trusted key/);
    const otherKeys = path.join(dir, "other-keys.json");
    writeFileSync(otherKeys, JSON.stringify({ keys: [await other.publicKey()] }));
    expect((await standalone(bundleFile, otherKeys)).code).toBe(1);
    expect((await standalone(bundleFile, "/nonexistent/keys.json")).code).toBe(2);
  });

  it("notices when the ledger or an artifact changes after sealing", async () => {
    const artifactFile = path.join(dir, "artifacts", "sha256", bundle.manifest.artifacts[0]!.sha256);
    chmodSync(artifactFile, 0o644);
    writeFileSync(artifactFile, "# Plan (edited)\n");
    const raw = new DatabaseSync(path.join(dir, "orchestrator.db"));
    raw.exec("DROP TRIGGER ledger_entries_no_delete");
    raw.prepare("DELETE FROM ledger_entries WHERE run_id = ? AND seq >= 4").run(runId);
    raw.close();
    const check = await evidence.verify(bundle);
    expect(check.ok).toBe(false);
    expect(check.problems.join("\n")).toMatch(/no longer has seq 5.*ledger truncated/);
    expect(check.problems.join("\n")).toMatch(/artifact plan.md: .*is corrupt/);
  });

  it("verifies an ECDSA P-256 signature (as made by KMS) here and in the script", async () => {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const key = publicKeyRecord(publicKey.export({ format: "der", type: "spki" }), "ecdsa-p256-sha256", "arn:aws:kms:eu-west-1:1:key/x");
    const ecdsa: Signer = { publicKey: async () => key, sign: async (m) => sign("sha256", m, privateKey) };
    const record = (await ledger.run(runId))!;
    const signed = await signManifest(buildManifest({ ...record, artifacts: [] }, new Date()), ecdsa, { id: "urn:test", version: "1" });
    expect(verifyBundle(signed, [key])).toMatchObject({ ok: true, keyid: key.keyid });
    const file = path.join(dir, "ecdsa.json");
    writeFileSync(file, JSON.stringify(signed));
    const pem = path.join(dir, "kms-key.pem");
    writeFileSync(pem, key.public_key);
    expect(await standalone(file, pem)).toMatchObject({ code: 0 });
    // A key of a kind evidence is never signed with is refused as bad input, not reported as a bad signature.
    const rsa = path.join(dir, "rsa-key.pem");
    writeFileSync(rsa, generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ format: "pem", type: "spki" }));
    const refused = await standalone(file, rsa);
    expect(refused.code).toBe(2);
    expect(refused.out).toMatch(/rsa-key\.pem holds a rsa key; evidence is signed with ed25519, ECDSA P-256 or ECDSA P-384 keys/);
  });
});

function flipHex(h: string): string {
  return (h[0] === "0" ? "1" : "0") + h.slice(1);
}

function flipBase64(b64: string): string {
  const bytes = Buffer.from(b64, "base64");
  bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
  return bytes.toString("base64");
}
