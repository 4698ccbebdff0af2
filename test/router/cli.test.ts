import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { finished, runCli, spawnCli } from "../helpers/cli.js";

const root = path.resolve(import.meta.dirname, "../..");
const policy = path.join(root, "routing-policy.yaml");

describe("orchestrator policy / route / redact", () => {
  it("policy check prints the version and the routes table", async () => {
    const r = await runCli(["policy", "check", policy]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/policy_version: [0-9a-f]{64}/);
    expect(r.stdout).toContain("| builder | builder | * | * | * | demo (scripted) |");
    expect(r.stdout).toContain("| restricted | none: every call refused |");
  });

  it("policy check exits 1 naming file, line and path; 2 for a missing file", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "policy-cli-"));
    const bad = path.join(dir, "routing-policy.yaml");
    writeFileSync(bad, "version: 1\nproviders: {}\nmodels: {}\nsensitivity: { default: x, levels: {} }\nrules:\n  - model: nope\n");
    const r = await runCli(["policy", "check", bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/routing-policy\.yaml:4: sensitivity\.default names unknown sensitivity level "x"/);
    expect(r.stderr).toMatch(/routing-policy\.yaml:6: rules\[0\]\.model names unknown model "nope"/);
    expect((await runCli(["policy", "check", path.join(dir, "missing.yaml")])).code).toBe(2);
  });

  it("route explains the decision, and exits 1 when the policy refuses", async () => {
    const ok = await runCli(["route", "--role", "verifier", "--run-type", "release_prep", "--repo", "acme/app", "--policy", policy]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain("model: demo (scripted/scripted-demo)");
    expect(ok.stdout).toContain("rule: verifier");
    expect(ok.stdout).toContain("sensitivity: internal (policy default)");
    const refused = await runCli(["route", "--role", "planner", "--run-type", "spec_change", "--repo", "acme/hr", "--sensitivity", "restricted", "--policy", policy]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain('refused: sensitivity level "restricted" has no approved provider');
    const usage = await runCli(["route", "--role", "reviewer", "--run-type", "spec_change", "--repo", "a/b", "--policy", policy]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("--role must be one of planner, builder, verifier");
  });

  it("redact prints redacted stdin and counts by kind on stderr", async () => {
    const child = spawnCli(["redact", "--policy", policy]);
    child.stdin.end(`token=ghp_${"Zx9".repeat(12)}\nid CUST-00001234 and sha ${"ab12".repeat(10)}\n`);
    const r = await finished(child);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`token=[REDACTED:github-token:1]\nid [REDACTED:customer-id:1] and sha ${"ab12".repeat(10)}\n`);
    expect(r.stderr).toContain("redacted 2: customer-id=1, github-token=1");
  });

  it("redact says so when the default policy is invalid, and redacts with the built-in rules", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "redact-cli-"));
    const bad = path.join(dir, "routing-policy.yaml");
    writeFileSync(bad, "version: 1\nproviders: {}\n");
    const child = spawnCli(["redact"], { ROUTING_POLICY_PATH: bad });
    child.stdin.end(`token=ghp_${"Zx9".repeat(12)}\n`);
    const r = await finished(child);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("token=[REDACTED:github-token:1]\n");
    expect(r.stderr).toContain("routing-policy.yaml is invalid");
    expect(r.stderr).toContain("redaction.patterns are not applied");
    const missing = spawnCli(["redact"], { ROUTING_POLICY_PATH: path.join(dir, "none.yaml") });
    missing.stdin.end("nothing secret\n");
    const m = await finished(missing);
    expect(m.code, m.stderr).toBe(0);
    expect(m.stderr).not.toContain("warning");
    // There but unreadable (here a directory): said, unlike a missing one.
    const unreadable = spawnCli(["redact"], { ROUTING_POLICY_PATH: dir });
    unreadable.stdin.end("nothing secret\n");
    const u = await finished(unreadable);
    expect(u.code, u.stderr).toBe(0);
    expect(u.stderr).toContain("EISDIR");
    expect(u.stderr).toContain("redaction.patterns are not applied");
  });
});
