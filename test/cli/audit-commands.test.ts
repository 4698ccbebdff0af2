// The audit commands as a user runs them: runs, ledger verify, evidence sign/show/verify, artifacts get.
import { createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fileArtifactStore } from "../../src/orchestrator/artifacts/files.js";
import { newRunId } from "../../src/orchestrator/ledger/port.js";
import { sqliteLedger } from "../../src/orchestrator/ledger/sqlite.js";
import { openSqlite } from "../../src/store/sqlite.js";
import { runCli } from "../helpers/cli.js";

describe("audit CLI", () => {
  let dataDir: string;
  let env: Record<string, string>;
  const runIds: string[] = [];
  const planShas: string[] = [];

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), "audit-cli-"));
    env = { DATA_DIR: dataDir };
    const db = openSqlite(path.join(dataDir, "orchestrator.db"), { synchronous: "NORMAL" });
    const ledger = sqliteLedger({ db });
    const artifacts = fileArtifactStore(path.join(dataDir, "artifacts"));
    for (const repo of ["acme/api", "acme/web"]) {
      const runId = newRunId();
      runIds.push(runId);
      const plan = await artifacts.put(`# Plan for ${repo}\n`, { name: "plan.md", media_type: "text/markdown", run_id: runId, producer_step: "plan" });
      planShas.push(plan.sha256);
      await ledger.append([
        {
          runId,
          expectedSeq: 0,
          entries: [
            {
              type: "run_created",
              payload: { run_type: "spec_change", source: { event_id: "d1", origin: "jira", subjects: [{ kind: "jira", key: "SPEC-9" }] }, repo_scope: repo, policy_version: "p1", title: `Spec for ${repo}` },
            },
            { type: "status_changed", payload: { to: "awaiting_human" } },
            { type: "artifact_added", payload: { sha256: plan.sha256, name: plan.name, size: plan.size, media_type: plan.media_type, producer_step: "plan" } },
          ],
        },
      ]);
    }
    db.close();
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it("lists and shows runs", async () => {
    const list = await runCli(["runs", "list", "--subject", "jira:SPEC-9", "--limit", "1"], env);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`^${runIds[1]}\\s+spec_change\\s+awaiting_human\\s+acme/web`));
    expect(list.stdout).toMatch(/more: --cursor \S+/);
    const show = await runCli(["runs", "show", runIds[0]!, "--entries"], env);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain("repo: acme/api");
    expect(show.stdout).toMatch(/^\s+2\s+\S+\s+artifact_added\s+[0-9a-f]{64}$/m);
    expect((await runCli(["runs", "show", "run_nope"], env)).code).toBe(2);
    expect((await runCli(["runs", "list", "--status", "sleeping"], env)).code).toBe(2);
  });

  it("seals, shows and verifies evidence", async () => {
    const planSha = planShas[0]!;
    const sign = await runCli(["evidence", "sign", runIds[0]!], env);
    expect(sign.stderr).toBe("");
    expect(sign.stdout).toMatch(/^sealed run_\w+ at ledger seq 2: bundle sha256\/[0-9a-f]{64}/);
    const show = await runCli(["evidence", "show", runIds[0]!], env);
    const bundle = JSON.parse(show.stdout) as { manifest: { artifacts: { sha256: string }[] } };
    expect(bundle.manifest.artifacts[0]!.sha256).toBe(planSha);
    const verify = await runCli(["evidence", "verify", runIds[0]!], env);
    expect(verify.stdout).toMatch(/^evidence OK: run_\w+, 1 artifacts/);
    expect(verify.code).toBe(0);
    const file = path.join(dataDir, "bundle.json");
    writeFileSync(file, show.stdout.replace(planSha, planSha.replace(/^./, (c) => (c === "0" ? "1" : "0"))));
    const bad = await runCli(["evidence", "verify", file], env);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/FAILED/);
    expect((await runCli(["evidence", "show", runIds[1]!], env)).stderr).toMatch(/no evidence bundle sealed/);
    expect((await runCli(["evidence", "verify", "no-such-file.json"], env)).code).toBe(2);
  });

  it("verifies evidence against a public key PEM given with --keys", async () => {
    // Runs after the bundle of runIds[0] was sealed above.
    const own = createPublicKey(readFileSync(path.join(dataDir, "keys", "evidence-signing-ed25519.pem"), "utf8"));
    const pemFile = (name: string, key: KeyObject) => {
      const file = path.join(dataDir, name);
      writeFileSync(file, key.export({ format: "pem", type: "spki" }));
      return file;
    };
    const ok = await runCli(["evidence", "verify", runIds[0]!, "--keys", pemFile("own.pem", own)], env);
    expect(ok.stdout).toMatch(/^evidence OK: run_\w+/);
    expect(ok.code).toBe(0);
    const other = await runCli(["evidence", "verify", runIds[0]!, "--keys", pemFile("other.pem", generateKeyPairSync("ed25519").publicKey)], env);
    expect(other.code).toBe(1);
    expect(other.stdout).toMatch(/FAILED/);
    const rsa = await runCli(["evidence", "verify", runIds[0]!, "--keys", pemFile("rsa.pem", generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey)], env);
    expect(rsa.code).toBe(2);
    expect(rsa.stderr).toMatch(/holds a rsa key; evidence is signed with ed25519, ECDSA P-256 or ECDSA P-384 keys/);
  });

  it("gets an artifact only when intact", async () => {
    const planSha = planShas[1]!;
    const out = path.join(dataDir, "plan-copy.md");
    expect((await runCli(["artifacts", "get", `sha256/${planSha}`, "--out", out], env)).code).toBe(0);
    expect(readFileSync(out, "utf8")).toBe("# Plan for acme/web\n");
    const file = path.join(dataDir, "artifacts", "sha256", planSha);
    chmodSync(file, 0o644);
    writeFileSync(file, "# Plan for acme/evil\n");
    const corrupt = await runCli(["artifacts", "get", planSha], env);
    expect(corrupt.code).toBe(1);
    expect(corrupt.stdout).toBe("");
    expect(corrupt.stderr).toMatch(/is corrupt/);
    expect((await runCli(["artifacts", "get", "abc"], env)).code).toBe(2);
  });

  it("verifies the ledger, and names the first tampered run and seq", async () => {
    const ok = await runCli(["ledger", "verify"], env);
    expect(ok.stdout).toMatch(/^ledger intact: \d+ entries in 2 runs verified/);
    expect(ok.code).toBe(0);
    const raw = new DatabaseSync(path.join(dataDir, "orchestrator.db"));
    raw.exec("DROP TRIGGER ledger_entries_no_update");
    raw.prepare("UPDATE ledger_entries SET body = replace(body, 'awaiting_human', 'succeeded') WHERE run_id = ? AND seq = 1").run(runIds[1]!);
    raw.close();
    for (const args of [["ledger", "verify"], ["ledger", "verify", "--run", runIds[1]!], ["ledger", "verify", "--workers", "2"]]) {
      const bad = await runCli(args, env);
      expect(bad.code).toBe(1);
      expect(bad.stdout).toContain(`run ${runIds[1]} seq 1: edited`);
    }
  });
});

