// The running server publishes its evidence signing keys and reports the audit backends in /readyz.
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SigningKeys } from "../../../src/orchestrator/signing/port.js";
import { LOCAL_KEY_FILE } from "../../../src/orchestrator/signing/local.js";
import { startApp, type RunningApp } from "../../helpers/app.js";

describe("signing keys at the well-known path", () => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await startApp();
  });
  afterAll(async () => app?.close());

  it("serves the local ed25519 public key created in the data dir on first start", async () => {
    const res = await fetch(`${app.url}/.well-known/orchestrator/signing-keys.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toMatch(/max-age/);
    const { keys } = SigningKeys.parse(await res.json());
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ algorithm: "ed25519", source: "local" });
    expect(readFileSync(path.join(app.dataDir, LOCAL_KEY_FILE), "utf8")).toMatch(/BEGIN PRIVATE KEY/);
    expect(JSON.stringify(keys)).not.toMatch(/PRIVATE/);
  });

  it("reports ledger, artifacts and signer as ready", async () => {
    const res = await fetch(`${app.url}/readyz`);
    const body = (await res.json()) as { checks: Record<string, string> };
    expect(body.checks).toMatchObject({ ledger: "ok", artifacts: "ok", signer: "ok" });
  });
});
