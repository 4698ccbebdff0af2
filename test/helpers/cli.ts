// Runs the real `orchestrator` command (src/cli.ts through tsx) as a child process.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = path.resolve(import.meta.dirname, "../..");
const cliEntry = path.join(repoRoot, "src", "cli.ts");
const tsx = fileURLToPath(import.meta.resolve("tsx"));

/** An environment with none of the orchestrator's settings, so the developer's own shell or .env cannot leak in. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env["PATH"], HOME: process.env["HOME"], LOG_FORMAT: "json", ...extra };
}

/** Starts the command in an empty temp dir (no .env there), removed when the command exits. */
export function spawnCli(args: readonly string[], env: Record<string, string> = {}): ChildProcessWithoutNullStreams {
  const cwd = mkdtempSync(path.join(tmpdir(), "orchestrator-cli-"));
  const child = spawn(process.execPath, ["--import", tsx, cliEntry, ...args], { cwd, env: cleanEnv(env) });
  child.once("close", () => rmSync(cwd, { recursive: true, force: true }));
  return child;
}

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Collects the output of a started command until it exits. */
export function finished(child: ChildProcessWithoutNullStreams): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
  child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

export function runCli(args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> {
  return finished(spawnCli(args, env));
}
