import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parse as parseDotenv } from "dotenv";
import nock from "nock";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { githubPrivateKey, loadConfig, readEnv } from "../../src/config.js";
import { mergeEnvFile } from "../../src/setup/env-file.js";
import { convertManifestCode, createAppUrl, defaultManifestFile } from "../../src/setup/github-manifest.js";
import { startGithubSetup } from "../../src/setup/github-setup-server.js";
import { appPrivateKey } from "../helpers/github.js";

/** GitHub's answer to POST /app-manifests/{code}/conversions, shaped as in its REST docs. */
function conversionResponse(pem: string) {
  return {
    id: 987654,
    slug: "scintilla-orchestrator-acme",
    node_id: "A_kwDOBk3lKM4AAQID",
    client_id: "Iv23liAbCdEf123456",
    owner: { login: "acme", id: 4242, node_id: "O_kgDOAABCDA", type: "Organization", site_admin: false },
    name: "Scintilla Orchestrator (acme)",
    description: "Policy-governed, auditable AI-agent runs for software changes.",
    external_url: "https://github.com/scintilla-dev/orchestrator",
    html_url: "https://github.com/apps/scintilla-orchestrator-acme",
    created_at: "2026-11-25T19:00:00Z",
    updated_at: "2026-11-25T19:00:00Z",
    permissions: { metadata: "read", contents: "write", pull_requests: "write", issues: "write", checks: "write" },
    events: ["issues", "issue_comment", "pull_request", "pull_request_review", "check_suite", "check_run", "push"],
    installations_count: 0,
    client_secret: "0123456789abcdef0123456789abcdef01234567",
    webhook_secret: "e340154128314309424b7c8e90325147d99fdafa",
    pem,
  };
}

const decode = (s: string) => s.replace(/&#(\d+);/g, (_m, n: string) => String.fromCharCode(Number(n)));

describe("orchestrator setup github", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), "orchestrator-setup-"));
    nock.disableNetConnect();
    nock.enableNetConnect("127.0.0.1");
  });
  afterEach(() => nock.cleanAll());
  afterAll(() => {
    nock.enableNetConnect();
    rmSync(dir, { recursive: true, force: true });
  });

  it("posts app.yml to GitHub, exchanges the returned code and merges the credentials into .env", async () => {
    const envFile = path.join(dir, ".env");
    const oldKey = appPrivateKey();
    writeFileSync(
      envFile,
      ["# local settings", "LOG_LEVEL=debug", "APP_ID=1", `PRIVATE_KEY="${oldKey.trim()}"`, "", "GITLAB_WEBHOOK_TOKEN=keep-me # comment"].join("\n") + "\n",
    );
    const flow = await startGithubSetup({ manifestFile: defaultManifestFile, envFile, port: 0, webhookUrl: "https://smee.io/AbCdEf", org: "acme" });
    try {
      const html = await (await fetch(`${flow.url}/`)).text();
      const action = decode(/<form action="([^"]+)" method="post">/.exec(html)![1]!);
      const manifest = JSON.parse(decode(/name="manifest" value="([^"]+)"/.exec(html)![1]!)) as Record<string, unknown>;
      expect(action).toMatch(/^https:\/\/github\.com\/organizations\/acme\/settings\/apps\/new\?state=[0-9a-f]{32}$/);
      expect(manifest).toMatchObject({
        name: "Scintilla Orchestrator",
        hook_attributes: { url: "https://smee.io/AbCdEf", active: true },
        redirect_url: `${flow.url}/callback`,
        default_permissions: { metadata: "read", contents: "write", pull_requests: "write", issues: "write", checks: "write" },
      });
      expect(manifest["default_events"]).toEqual(["issues", "issue_comment", "pull_request", "pull_request_review", "check_suite", "check_run", "push"]);
      const state = new URL(action).searchParams.get("state")!;

      // A redirect that this page did not start is refused before GitHub is called.
      expect((await fetch(`${flow.url}/callback?code=abc123&state=forged`)).status).toBe(400);

      const pem = appPrivateKey();
      const scope = nock("https://api.github.com").post("/app-manifests/abc123/conversions").reply(201, conversionResponse(pem));
      const res = await fetch(`${flow.url}/callback?code=abc123&state=${state}`);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain("https://github.com/apps/scintilla-orchestrator-acme/installations/new");
      const result = await flow.done;
      expect(scope.isDone()).toBe(true);
      expect(result.installUrl).toBe("https://github.com/apps/scintilla-orchestrator-acme/installations/new");

      const written = readFileSync(envFile, "utf8");
      expect(written).toContain("# local settings\nLOG_LEVEL=debug\nAPP_ID=987654\n");
      expect(written).toContain("\n\nGITLAB_WEBHOOK_TOKEN=keep-me # comment\n");
      expect(written).not.toContain(oldKey.split("\n")[1]);
      expect(statSync(envFile).mode & 0o777).toBe(0o600);
      const parsed = parseDotenv(written);
      expect(parsed).toMatchObject({ APP_ID: "987654", WEBHOOK_SECRET: "e340154128314309424b7c8e90325147d99fdafa", LOG_LEVEL: "debug", GITLAB_WEBHOOK_TOKEN: "keep-me" });
      // The server reads the key back exactly as GitHub issued it.
      expect(githubPrivateKey(loadConfig(readEnv({}, dir)))).toBe(pem.trim());
    } finally {
      await flow.close();
    }
  });

  it("uses GitHub Enterprise Server's pages and API when a GHE host is given", async () => {
    expect(createAppUrl({ gheHost: "ghe.acme.internal", state: "s" })).toBe("https://ghe.acme.internal/settings/apps/new?state=s");
    expect(createAppUrl({ state: "s" })).toBe("https://github.com/settings/apps/new?state=s");
    const scope = nock("https://ghe.acme.internal").post("/api/v3/app-manifests/code-9/conversions").reply(201, conversionResponse("pem"));
    const app = await convertManifestCode("code-9", { gheHost: "ghe.acme.internal" });
    expect(scope.isDone()).toBe(true);
    expect(app.id).toBe(987654);
  });

  it("reports GitHub refusing the code on the page and lets the user retry", async () => {
    const envFile = path.join(dir, "retry.env");
    const flow = await startGithubSetup({ manifestFile: defaultManifestFile, envFile, port: 0, webhookUrl: "https://example.com/hooks" });
    try {
      const html = await (await fetch(`${flow.url}/`)).text();
      const state = new URL(decode(/<form action="([^"]+)"/.exec(html)![1]!)).searchParams.get("state")!;
      nock("https://api.github.com").post("/app-manifests/expired/conversions").reply(404, { message: "Not Found", documentation_url: "https://docs.github.com/rest" });
      const res = await fetch(`${flow.url}/callback?code=expired&state=${state}`);
      expect(res.status).toBe(502);
      expect(await res.text()).toContain("start again");
      expect(() => statSync(envFile)).toThrow();
    } finally {
      await flow.close();
    }
  });

  it("refuses to start on an invalid manifest, naming the file and the field", async () => {
    const manifestFile = path.join(dir, "bad-app.yml");
    writeFileSync(manifestFile, "name: Orchestrator\nurl: not a url\ndefault_permissions: {}\ndefault_events: []\n");
    const envFile = path.join(dir, "bad-manifest.env");
    await expect(startGithubSetup({ manifestFile, envFile, port: 0, webhookUrl: "https://example.com/hooks" })).rejects.toThrow(`${manifestFile}: url `);
    expect(() => statSync(envFile)).toThrow();
  });

  it("merges into a dotenv file without touching unrelated lines", () => {
    const file = path.join(dir, "merge.env");
    writeFileSync(file, "export A=1\nB='two words'\n# keep\nC=3\n");
    mergeEnvFile(file, { B: "new value", D: "line1\nline2" });
    expect(readFileSync(file, "utf8")).toBe('export A=1\nB="new value"\n# keep\nC=3\nD="line1\\nline2"\n');
    expect(parseDotenv(readFileSync(file))).toEqual({ A: "1", B: "new value", C: "3", D: "line1\nline2" });
  });
});
