import { describe, expect, it } from "vitest";
import type { EventRepo } from "../../../src/events/schema.js";
import type { RepoFileReader } from "../../../src/orchestrator/forge-ports.js";
import { loadRepoConfig, parseExtends } from "../../../src/orchestrator/repo-config/loader.js";
import { defaultRepoConfig } from "../../../src/orchestrator/repo-config/schema.js";

/** Files on default branches, keyed `owner/repo:path`. */
function reader(files: Record<string, string>): RepoFileReader & { reads: string[] } {
  const reads: string[] = [];
  return {
    reads,
    async readDefaultBranchFile(_repo, fullPath, file) {
      reads.push(`${fullPath}:${file}`);
      return files[`${fullPath}:${file}`] ?? null;
    },
  };
}

const repo: EventRepo = { forge: "github", host: "github.com", full_path: "acme/app", default_branch: "main", id: "1", installation_id: 9 };
const gitlabRepo: EventRepo = { ...repo, forge: "gitlab", host: "gitlab.com", full_path: "acme/platform/app", installation_id: null };

describe("repo config loader", () => {
  it("uses the defaults when the repo has no config (and no org .github repo)", async () => {
    const r = reader({});
    expect(await loadRepoConfig(r, repo)).toEqual({ ok: true, config: defaultRepoConfig, sources: [] });
    expect(r.reads).toEqual(["acme/app:.github/orchestrator.yml", "acme/.github:.github/orchestrator.yml"]);
    expect(defaultRepoConfig.triggers.labels["orchestrator:impl"]).toBe("impl_change");
  });

  it("reads .github/orchestrator.yml on GitHub and .gitlab/orchestrator.yml on GitLab", async () => {
    const r = reader({
      "acme/app:.github/orchestrator.yml": "sensitivity: confidential\n",
      "acme/platform/app:.gitlab/orchestrator.yml": "sensitivity: restricted\n",
    });
    expect(await loadRepoConfig(r, repo)).toMatchObject({ ok: true, config: { sensitivity: "confidential" } });
    expect(await loadRepoConfig(r, gitlabRepo)).toMatchObject({ ok: true, config: { sensitivity: "restricted" } });
  });

  it("falls back to the owner's .github repository on GitHub", async () => {
    const r = reader({ "acme/.github:.github/orchestrator.yml": "forks:\n  allow_runs: true\n" });
    expect(await loadRepoConfig(r, repo)).toMatchObject({ ok: true, config: { forks: { allow_runs: true } }, sources: ["acme/.github:.github/orchestrator.yml"] });
  });

  it("follows _extends in its three forms, the repo's own values winning", async () => {
    const r = reader({
      "acme/app:.github/orchestrator.yml": "_extends: base\ntriggers:\n  spec_paths: [specs/**]\n",
      "acme/base:.github/orchestrator.yml": "_extends: other-org/policies:orchestrator/base.yml\nsensitivity: confidential\ntriggers:\n  spec_paths: [docs/**]\n  commands: false\n",
      "other-org/policies:orchestrator/base.yml": "gates:\n  - name: test\n    run: npm test\n",
    });
    const res = await loadRepoConfig(r, repo);
    expect(res).toMatchObject({
      ok: true,
      config: { sensitivity: "confidential", triggers: { spec_paths: ["specs/**"], commands: false }, gates: [{ name: "test", run: "npm test" }] },
      sources: ["acme/app:.github/orchestrator.yml", "acme/base:.github/orchestrator.yml", "other-org/policies:orchestrator/base.yml"],
    });
  });

  it("parses _extends like Probot, nested GitLab groups included", () => {
    expect(parseExtends("base", "acme/app", ".github/orchestrator.yml")).toEqual({ fullPath: "acme/base", file: ".github/orchestrator.yml" });
    expect(parseExtends("org/repo", "acme/app", ".github/orchestrator.yml")).toEqual({ fullPath: "org/repo", file: ".github/orchestrator.yml" });
    expect(parseExtends("org/repo:a/b.yml", "acme/app", ".github/orchestrator.yml")).toEqual({ fullPath: "org/repo", file: "a/b.yml" });
    expect(parseExtends("shared", "grp/sub/app", ".gitlab/orchestrator.yml")).toEqual({ fullPath: "grp/sub/shared", file: ".gitlab/orchestrator.yml" });
  });

  it.each([
    ["sensitivity: secret\n", /sensitivity`: Invalid option: expected one of "public"\|"internal"\|"confidential"\|"restricted", got "secret"/],
    ["triggers:\n  labels:\n    orchestrator:impl: impl\n", /triggers\.labels\.orchestrator:impl/],
    ["trigers: {}\n", /Unrecognized key: "trigers"/],
    ["gates:\n  - name: test\n", /gates\.0\.run/],
    ["key: [unclosed\n", /not valid YAML at line 2, column 1/],
    ["- a\n- b\n", /must be a YAML mapping/],
    ["_extends: 42\n", /_extends must be/],
    ["_extends: missing\n", /acme\/missing:.github\/orchestrator.yml, which does not exist/],
  ])("explains what is wrong with %j", async (text, message) => {
    const res = await loadRepoConfig(reader({ "acme/app:.github/orchestrator.yml": text }), repo);
    expect(res.ok).toBe(false);
    expect(!res.ok && res.error).toMatch(message);
    expect(!res.ok && res.error).toContain("acme/");
  });

  it("stops an _extends loop", async () => {
    const r = reader({ "acme/app:.github/orchestrator.yml": "_extends: b\n", "acme/b:.github/orchestrator.yml": "_extends: app\n" });
    expect(await loadRepoConfig(r, repo)).toMatchObject({ ok: false, error: expect.stringContaining("loops back") });
  });
});
