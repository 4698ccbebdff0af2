import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, withSettingsTable } from "../src/config.js";

describe("config", () => {
  it("starts with nothing set, using the embedded defaults", () => {
    const c = loadConfig({});
    expect(c.server.port).toBe(3000);
    expect(c.data.dir).toBe("./.orchestrator");
    expect(c.github.appId).toBeUndefined();
  });

  it("lists every bad setting at once, naming the variable", () => {
    const err = (() => {
      try {
        loadConfig({ PORT: "eighty", LOG_LEVEL: "loud", WEBHOOK_BODY_LIMIT: "-1" });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems;
    expect(problems).toHaveLength(3);
    expect(problems.join("\n")).toMatch(/PORT: .*"eighty"/);
    expect(problems.join("\n")).toMatch(/LOG_LEVEL: /);
    expect(problems.join("\n")).toMatch(/WEBHOOK_BODY_LIMIT: /);
  });

  it("requires the GitHub App settings together and never echoes secrets", () => {
    try {
      loadConfig({ WEBHOOK_SECRET: "s3cr3t-value" });
      expect.unreachable();
    } catch (e) {
      const msg = (e as ConfigError).message;
      expect(msg).toContain("APP_ID: required");
      expect(msg).toContain("PRIVATE_KEY or PRIVATE_KEY_PATH");
      expect(msg).not.toContain("s3cr3t-value");
    }
  });

  it("keeps the README's settings table in sync with the schema", () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    expect(withSettingsTable(readme), "run: npx tsx src/cli.ts config docs --write README.md").toBe(readme);
  });
});
