import { describe, expect, it } from "vitest";
import { finished, runCli, spawnCli } from "../helpers/cli.js";

describe("orchestrator CLI", () => {
  it("--help exits 0 and lists the commands", async () => {
    const r = await runCli(["--help"]);
    expect(r.code).toBe(0);
    for (const command of ["serve", "setup", "config"]) expect(r.stdout).toMatch(new RegExp(`^\\s+${command}\\b`, "m"));
  });

  it("--version prints the package version", async () => {
    const r = await runCli(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it.each(["serve", "setup github", "config check", "config docs"])("%s --help exits 0", async (command) => {
    const r = await runCli([...command.split(" "), "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Usage: orchestrator");
  });

  it("setup github --help documents its options", async () => {
    const r = await runCli(["setup", "github", "--help"]);
    for (const flag of ["--org", "--ghe-host", "--port", "--env-file", "--webhook-url"]) expect(r.stdout).toContain(flag);
  });

  it("exits 2 on an unknown command, saying so", async () => {
    const r = await runCli(["frobnicate"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command 'frobnicate'/);
  });

  it("exits 2 on a bad option value", async () => {
    const r = await runCli(["setup", "github", "--port", "eighty"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("must be a port number");
  });

  it("config check exits 2 listing every bad setting", async () => {
    const r = await runCli(["config", "check"], { PORT: "eighty", LOG_LEVEL: "loud", METRICS_ENABLED: "maybe" });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/PORT: .*"eighty"/);
    expect(r.stderr).toMatch(/LOG_LEVEL: /);
    expect(r.stderr).toMatch(/METRICS_ENABLED: must be true or false/);
  });

  it("config check exits 0 on a valid environment", async () => {
    const r = await runCli(["config", "check"], { PORT: "8080" });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("configuration is valid");
  });

  it("serve refuses to start on bad settings with exit 2", async () => {
    const r = await runCli(["serve"], { APP_ID: "12", PORT: "0" });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("PRIVATE_KEY or PRIVATE_KEY_PATH");
    expect(r.stderr).toContain("WEBHOOK_SECRET: required");
  });

  it("setup github serves the manifest page on 127.0.0.1 and stops on Ctrl-C", async () => {
    const child = spawnCli(["setup", "github", "--port", "0", "--org", "acme", "--webhook-url", "https://hooks.example.com/api/github/webhooks"]);
    const exit = finished(child);
    const url = await new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout.on("data", (c: string) => {
        out += c;
        const m = /Open (http:\/\/127\.0\.0\.1:\d+) in your browser/.exec(out);
        if (m) resolve(m[1]!);
      });
      void exit.then((r) => reject(new Error(`setup exited ${r.code}: ${r.stderr}`)));
    });
    const html = await (await fetch(`${url}/`)).text();
    expect(html).toContain('action="https://github.com/organizations/acme/settings/apps/new?state=');
    expect(html).toContain("hooks.example.com");
    child.kill("SIGINT");
    await exit;
  });
});
