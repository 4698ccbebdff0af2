import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Redactor } from "../../src/router/redaction/redactor.js";
import { SecretScanner } from "../../src/router/redaction/scanner.js";

const redactor = new Redactor(new SecretScanner());
const chars = (alphabet: string, min: number, max = min) => fc.string({ unit: fc.constantFrom(...alphabet), minLength: min, maxLength: max });
const HEX = "0123456789abcdef";
const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const B64 = `${ALNUM}+/`;
const URLSAFE = `${ALNUM}-_`;

const lookAlike = fc.oneof(
  chars(HEX, 40).map((sha) => `commit ${sha}`),
  chars(HEX, 64).map((h) => `"sha256": "${h}"`),
  fc.uuid().map((u) => `request ${u} done`),
  chars(B64, 86).map((b) => `"integrity": "sha512-${b}=="`),
  chars(B64, 400, 800).map((b) => `src="data:image/png;base64,${b}"`),
  chars(B64, 43).map((b) => `golang.org/x/mod v0.17.0 h1:${b}=`),
  chars(HEX, 128).map((h) => `  checksum: 10c0/${h}`),
  chars(HEX, 40).map((h) => `"to": "0x${h}"`),
);
const prose = fc.constantFrom("", "See the logs. ", "const x = compute(y);\n", "- run: npm test\n");

const secret = fc.oneof(
  chars(ALNUM, 36).map((s) => `ghp_${s}`),
  chars("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16).map((s) => `AKIA${s}`),
  chars(ALNUM, 24).map((s) => `sk_live_${s}`),
  chars(`${ALNUM}-_`, 20, 40).map((s) => `glpat-${s}`),
  chars(ALNUM, 36).map((s) => `npm_${s}`),
  chars(ALNUM, 34).map((s) => `hf_${s}`),
  chars(HEX, 48).map((s) => `rubygems_${s}`),
  fc.uuid().map((u) => `pat-na1-${u}`),
  chars(URLSAFE, 64).map((s) => `fio-u-${s}`),
  chars(HEX, 36).map((s) => `${s}NRAL`),
);
const context = fc.constantFrom((s: string) => `token: ${s}`, (s: string) => `export KEY="${s}"`, (s: string) => `use ${s} now`, (s: string) => `{"k":"${s}"}`, (s: string) => `(${s})`);

describe("redaction properties", () => {
  it("look-alikes inside ordinary text come out byte-identical", async () => {
    await fc.assert(
      fc.asyncProperty(prose, lookAlike, prose, async (a, l, b) => {
        const text = `${a}${l}\n${b}`;
        expect((await redactor.redact("prop", text)).text).toBe(text);
      }),
      { numRuns: 200 },
    );
  });

  it("secrets in documented formats never leave a 12-character fragment, whatever surrounds them", async () => {
    await fc.assert(
      fc.asyncProperty(prose, secret, context, async (a, s, wrap) => {
        const out = (await redactor.redact("prop", `${a}${wrap(s)}\n`)).text;
        for (let i = 0; i + 12 <= s.length; i++) expect(out).not.toContain(s.slice(i, i + 12));
      }),
      { numRuns: 300 },
    );
  });
});
