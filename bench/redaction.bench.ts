// Redaction throughput: our redactor (trigger prefilter, secretlint, format, keyword and policy rules, widening) versus secretlint alone, same corpus.
import { lintSource } from "@secretlint/core";
import { creator as recommended } from "@secretlint/secretlint-rule-preset-recommend";
import { loadPolicyFile } from "../src/router/policy.js";
import { Redactor } from "../src/router/redaction/redactor.js";
import { SecretScanner } from "../src/router/redaction/scanner.js";
import { secretlintScan } from "../src/router/redaction/secretlint.js";
import { mixedFiller, secretCases } from "../test/router/redaction-corpus.js";
import { formatSecrets } from "../test/router/redaction-formats.js";
import { fmt, median, rounds, table } from "./lib.js";

const ROUNDS = 3;
const TARGET_MBPS = 35;

/** Every format of both test corpora, so every rule gets to fire. */
const cases = [...secretCases, ...formatSecrets];

/** ~4 MB of code, config, prose and lockfile lines with one secret every ~16 KB, in the formats the corpora cover. */
function corpus(): string {
  const parts: string[] = [];
  let length = 0;
  for (let i = 0; length < 4_000_000; i++) {
    const secret = cases[i % cases.length]!.text;
    parts.push(mixedFiller(16_000, i + 1), "\n", secret, "\n");
    length += 16_002 + secret.length;
  }
  return parts.join("");
}

const text = corpus();
const mb = Buffer.byteLength(text) / 1e6;
const redactor = new Redactor(new SecretScanner(loadPolicyFile("routing-policy.yaml").policy.redaction.patterns));
const config = { rules: [{ id: "@secretlint/secretlint-rule-preset-recommend", rule: recommended }] };
// Load and switch off the profiler first, so both sides run with it off.
await secretlintScan("warm-up");

/** Throughput of `fn` over the corpus: a warm-up, then the mean of 3 passes (after a GC, so neither side pays for the other's garbage). */
async function timeMBps(fn: () => Promise<unknown>): Promise<number> {
  await fn();
  globalThis.gc?.();
  const t = performance.now();
  for (let i = 0; i < 3; i++) await fn();
  return (3 * mb) / ((performance.now() - t) / 1000);
}

const results = await rounds(ROUNDS, async () => {
  const secretlint = await timeMBps(() => lintSource({ source: { content: text, filePath: "/corpus.txt", ext: ".txt", contentType: "text" }, options: { config, noPhysicFilePath: true } }));
  const ours = await timeMBps(() => redactor.redact("bench", text));
  return { secretlint, ours };
});
const sl = median(results.map((r) => r.secretlint));
const ours = median(results.map((r) => r.ours));
const found = Object.values((await redactor.redact("bench", text)).counts).reduce((a, b) => a + b, 0);

process.stdout.write(
  [
    "## Redaction throughput",
    "",
    `Corpus: ${fmt(mb, 1)} MB of mixed code, config and prose with ${fmt(Math.ceil(text.length / 16_000))} embedded secrets drawn in turn from the ${cases.length} cases of both test corpora; ours redacted ${found} spans. Median of ${ROUNDS} rounds.`,
    "",
    table(
      ["scanner", "MB/s", "ratio"],
      [
        ["@secretlint/core + recommended preset (profiler off), detection only", fmt(sl, 1), "1.00×"],
        ["ours: prefilter + secretlint + format/keyword/policy rules + widening + placeholders", fmt(ours, 1), `${fmt(ours / sl, 2)}×`],
      ],
    ),
    "",
    `Target ≥ ${TARGET_MBPS} MB/s on mixed code and text: ${ours >= TARGET_MBPS ? "met" : "NOT met"} (${fmt(ours, 1)} MB/s).`,
  ].join("\n") + "\n",
);
