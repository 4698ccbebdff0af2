// Runs @secretlint/core with the recommended preset over text, with secretlint's profiler switched off.
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { lintSource } from "@secretlint/core";
import { creator as recommendedPreset } from "@secretlint/secretlint-rule-preset-recommend";

/** A range secretlint reported, before widening. */
export interface SecretlintHit {
  readonly start: number;
  readonly end: number;
  /** e.g. "github-token", derived from the rule's message id. */
  readonly kind: string;
}

const config = { rules: [{ id: "@secretlint/secretlint-rule-preset-recommend", rule: recommendedPreset }] };

/**
 * @secretlint/core marks every rule run on a module-level profiler that is on by default and
 * keeps its entries: ~19 KiB retained per call and a third slower. The instance to switch off
 * is the one @secretlint/core itself resolves, which is not necessarily the copy a plain
 * `import "@secretlint/profiler"` from here would load.
 */
const profilerOff: Promise<void> = (async () => {
  const coreFile = createRequire(import.meta.url).resolve("@secretlint/core");
  const profilerFile = createRequire(coreFile).resolve("@secretlint/profiler");
  const mod = (await import(pathToFileURL(profilerFile).href)) as { secretLintProfiler: { setEnabled(on: boolean): void } };
  mod.secretLintProfiler.setEnabled(false);
})();

/** Whether the profiler @secretlint/core uses is off (tests assert it). */
export async function secretlintProfilerEnabled(): Promise<boolean> {
  await profilerOff;
  const coreFile = createRequire(import.meta.url).resolve("@secretlint/core");
  const profilerFile = createRequire(coreFile).resolve("@secretlint/profiler");
  const mod = (await import(pathToFileURL(profilerFile).href)) as { secretLintProfiler: { isEnabled: boolean } };
  return mod.secretLintProfiler.isEnabled;
}

export async function secretlintScan(content: string): Promise<SecretlintHit[]> {
  await profilerOff;
  const result = await lintSource({
    source: { content, filePath: "/prompt.txt", ext: ".txt", contentType: "text" },
    options: { config, noPhysicFilePath: true },
  });
  return result.messages.map((m) => ({ start: m.range[0], end: m.range[1], kind: kindOf(m.messageId) }));
}

/** "AWSAccessKeyID" → "aws-access-key-id", "GITHUB_TOKEN" → "github-token". */
export function kindOf(messageId: string): string {
  return messageId
    .replace(/([a-z0-9])([A-Z])/g, "$1-$2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1-$2")
    .replace(/[_\s]+/g, "-")
    .toLowerCase();
}
