// Redaction breadth on the vendor-format corpus: vendors' documented formats in the places they turn up, and look-alikes that must not change.
import { describe, expect, it } from "vitest";
import { Redactor } from "../../src/router/redaction/redactor.js";
import { SecretScanner } from "../../src/router/redaction/scanner.js";
import { fragmentsLeft, mixedFiller } from "./redaction-corpus.js";
import { formatLookAlikes, formatSecrets } from "./redaction-formats.js";

const redactor = new Redactor(new SecretScanner());

describe("redaction on the vendor-format corpus", () => {
  it.each(formatSecrets.map((c) => [`${c.family}: ${c.name}`, c] as const))("removes %s", async (_name, c) => {
    const r = await redactor.redact("formats", c.text);
    expect(fragmentsLeft(c, r.text), r.text).toEqual([]);
    expect(r.dataClasses).toContain("secrets");
  });

  it.each(formatLookAlikes.map((t) => [t.slice(0, 70), t] as const))("leaves look-alike byte-identical: %s", async (_name, text) => {
    const r = await redactor.redact("formats", text);
    expect(r.text).toBe(text);
    expect(r.counts).toEqual({});
  });

  it("redacts AWS's documented example keys like real ones: they have the real format and nothing tells them apart", async () => {
    const id = ["AKIA", "IOSFODNN7", "EXAMPLE"].join("");
    const secret = ["wJalrXUtnFEMI", "/K7MDENG/bPxRfiCY", "EXAMPLEKEY"].join("");
    const r = await redactor.redact("aws-example", `aws_access_key_id = ${id}\naws_secret_access_key = ${secret}\n`);
    expect(r.text).toBe("aws_access_key_id = [REDACTED:aws-access-key-id:1]\naws_secret_access_key = [REDACTED:aws-secret-access-key:1]\n");
  });

  it("finds them all in one document, between code and prose, and leaves the look-alikes around them alone", async () => {
    const parts = formatSecrets.map((c, i) => `${mixedFiller(1_500, 500 + i)}\n${c.text}\n${formatLookAlikes[i % formatLookAlikes.length]}\n`);
    const text = parts.join("");
    const r = await redactor.redact("formats-doc", text);
    // Against the whole document: PEM armour or a vendor's host name that other lines also carry is not a fragment left.
    for (const c of formatSecrets) expect(fragmentsLeft({ secret: c.secret, text }, r.text), c.name).toEqual([]);
    for (const l of formatLookAlikes) expect(r.text).toContain(l);
  });
});
