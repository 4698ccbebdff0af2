// `orchestrator redact`: prints text with secrets replaced by placeholders; counts by kind go to stderr.
import { readFileSync } from "node:fs";
import { text as readStream } from "node:stream/consumers";
import type { Command } from "commander";
import { loadPolicyFile, PolicyError } from "../../router/policy.js";
import { Redactor } from "../../router/redaction/redactor.js";
import { SecretScanner } from "../../router/redaction/scanner.js";
import { EXIT_USAGE, type CliContext } from "../context.js";

export default function register(program: Command, ctx: CliContext): void {
  program
    .command("redact")
    .description("Redact secrets from a file or stdin as the model router would: text on stdout, counts by kind and data classes on stderr.")
    .option("--file <file>", "read this file instead of stdin")
    .option("--policy <file>", "take extra patterns from this policy (default: ROUTING_POLICY_PATH, if it exists)")
    .action(async (o: { file?: string; policy?: string }) => {
      let input: string;
      try {
        input = o.file ? readFileSync(o.file, "utf8") : await readStream(process.stdin);
      } catch (err) {
        process.stderr.write(`${o.file ?? "stdin"}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}\n`);
        process.exit(EXIT_USAGE);
      }
      const patterns = policyPatterns(o.policy ?? ctx.config().router.policyPath, o.policy !== undefined);
      const r = await new Redactor(new SecretScanner(patterns)).redact("cli", input);
      process.stdout.write(r.text);
      const counts = Object.entries(r.counts).sort(([a], [b]) => a.localeCompare(b));
      const total = counts.reduce((n, [, c]) => n + c, 0);
      process.stderr.write(`redacted ${total}${counts.length ? `: ${counts.map(([k, n]) => `${k}=${n}`).join(", ")}` : ""}\n`);
      if (r.dataClasses.length) process.stderr.write(`data classes: ${r.dataClasses.join(", ")}\n`);
    });
}

/**
 * The policy's own patterns. A missing default policy just means none; an invalid default one is
 * said on stderr (its patterns would otherwise be silently left out); an explicit bad one is an error.
 */
function policyPatterns(file: string, explicit: boolean) {
  try {
    return loadPolicyFile(file).policy.redaction.patterns;
  } catch (err) {
    if (explicit) {
      process.stderr.write(`${(err as Error).message}\n`);
      process.exit(EXIT_USAGE);
    }
    if (!(err instanceof PolicyError && err.readError === "ENOENT")) process.stderr.write(`${(err as Error).message}\nwarning: redacting with the built-in rules only; the policy's redaction.patterns are not applied\n`);
    return [];
  }
}
