import { runInNewContext } from "node:vm";
import { setFlagsFromString } from "node:v8";
import { describe, expect, it } from "vitest";
import { Redactor } from "../../src/router/redaction/redactor.js";
import { SecretScanner } from "../../src/router/redaction/scanner.js";
import { secretlintProfilerEnabled, secretlintScan } from "../../src/router/redaction/secretlint.js";
import { fragmentsLeft, lookAlikes, mixedFiller, randomChars, secretCases } from "./redaction-corpus.js";

const redactor = () => new Redactor(new SecretScanner([{ name: "customer-id", regex: "\\bCUST-[0-9]{8}\\b", data_class: "customer_data", redact: true }]));

describe("redaction", () => {
  it.each(secretCases.map((c) => [c.name, c] as const))("removes %s without leaving a 12-character fragment", async (_name, c) => {
    const r = await redactor().redact("run_a", c.text);
    expect(fragmentsLeft(c, r.text), r.text).toEqual([]);
    expect(r.text).toMatch(/\[REDACTED:[a-z0-9-]+:1\]/);
    expect(r.dataClasses).toContain("secrets");
  });

  it.each(lookAlikes.map((t) => [t.slice(0, 60), t] as const))("leaves look-alike byte-identical: %s", async (_name, text) => {
    expect((await redactor().redact("run_a", text)).text).toBe(text);
  });

  it("leaves ordinary code and prose untouched", async () => {
    const text = mixedFiller(200_000, 7);
    const r = await redactor().redact("run_a", text);
    expect(r.text).toBe(text);
    expect(r.counts).toEqual({});
  });

  it("finds every secret in one large mixed document, at the right places", async () => {
    const text = secretCases.map((c, i) => `${mixedFiller(3_000, i)}\n${c.text}\n`).join("");
    const r = await redactor().redact("run_a", text);
    for (const c of secretCases) expect(fragmentsLeft(c, r.text), c.name).toEqual([]);
    const total = Object.values(r.counts).reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThanOrEqual(secretCases.length);
  });

  it("numbers placeholders per kind, stable within a run, and counts by kind", async () => {
    const red = redactor();
    const a = `ghp_${randomChars("abcdefghijklmnopqrstuvwxyz0123456789", 36, 900)}`;
    const b = `ghp_${randomChars("abcdefghijklmnopqrstuvwxyz0123456789", 36, 901)}`;
    const first = await red.redact("run_a", `one ${a} two ${b} again ${a}`);
    expect(first.text).toBe("one [REDACTED:github-token:1] two [REDACTED:github-token:2] again [REDACTED:github-token:1]");
    expect(first.counts).toEqual({ "github-token": 3 });
    // A later call of the same run refers to the same secret by the same placeholder.
    expect((await red.redact("run_a", `then ${b}`)).text).toBe("then [REDACTED:github-token:2]");
    // Another run has its own numbering.
    expect((await red.redact("run_b", `then ${b}`)).text).toBe("then [REDACTED:github-token:1]");
  });

  it("does not redact its own placeholders again", async () => {
    const red = redactor();
    const once = await red.redact("run_a", `token: ghp_${randomChars("abcdef0123456789", 36, 902)}`);
    const twice = await red.redact("run_a", once.text);
    expect(twice.text).toBe(once.text);
    expect(twice.counts).toEqual({});
  });

  it("detects data classes: emails as pii (kept), policy patterns as customer_data (redacted)", async () => {
    const r = await redactor().redact("run_a", "Contact jane.doe@example.org about CUST-12345678.");
    expect(r.text).toBe("Contact jane.doe@example.org about [REDACTED:customer-id:1].");
    expect(r.dataClasses).toEqual(["customer_data", "pii"]);
    expect(r.counts).toEqual({ "customer-id": 1 });
  });

  it("keeps the name of a key = value pair and redacts the whole value, even where a rule matched only part of it", async () => {
    // secretlint reports `aws_secret_access_key = ` plus the first 16 characters only.
    const secret = `9dpQk2m5Xq8vL3nR/7tY1wZ4cF6hJ0+B2eG5iK8o`;
    const r = await redactor().redact("run_a", `[default]\naws_secret_access_key = ${secret}\n`);
    expect(r.text).toBe("[default]\naws_secret_access_key = [REDACTED:aws-secret-access-key:1]\n");
  });

  it.each([
    ["an unquoted value with a lone > in it", "API_TOKEN=Zq8>Lm2Nx7Rt5Vb", "Zq8>Lm2Nx7Rt5Vb"],
    ["a value that starts like a relative path but has no directory or extension", "password = ./k9Qw3Er7Ty1Ui", "./k9Qw3Er7Ty1Ui"],
    ["a key ending in _ref", "client_secret_ref=Hq83LmzPq9Xr2", "Hq83LmzPq9Xr2"],
  ])("redacts %s", async (_what, text, secret) => {
    const r = await redactor().redact("run_a", text);
    expect(r.text).not.toContain(secret.slice(-8));
    expect(r.text).toMatch(/\[REDACTED:[a-z0-9-]+:1\]$/);
  });

  it("widens a partial match to the whole token", async () => {
    // secretlint's GitHub rule matches 36 characters; a longer token must go entirely.
    const long = `ghp_${randomChars("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789", 60, 903)}`;
    const r = await redactor().redact("run_a", `x ${long} y`);
    expect(r.text).toBe("x [REDACTED:github-token:1] y");
  });

  it("runs secretlint with the profiler off, on the instance @secretlint/core uses", async () => {
    expect(await secretlintProfilerEnabled()).toBe(false);
  });

  it("keeps memory flat over many calls", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const text = `${mixedFiller(1_000, 3)}\naws_secret_access_key = ${randomChars("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+", 40, 904)}\n`;
    for (let i = 0; i < 200; i++) await secretlintScan(text);
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 4_000; i++) await secretlintScan(text);
    gc();
    const grownMiB = (process.memoryUsage().heapUsed - before) / 2 ** 20;
    // With the profiler on this grows by ~19 KiB a call (~75 MiB here).
    expect(grownMiB).toBeLessThan(8);
  });
});
