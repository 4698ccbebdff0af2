// Builds the `orchestrator` command: every file in ./commands adds one command, so a new command is one new file.
import { readFileSync, readdirSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { cliContext, EXIT_USAGE, type CliContext } from "./context.js";

/** What a file in ./commands exports as default. */
export type RegisterCommand = (program: Command, ctx: CliContext) => void;

const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };

export async function createProgram(ctx: CliContext = cliContext): Promise<Command> {
  const program = new Command("orchestrator")
    .description("Scintilla Orchestrator: policy-governed, auditable AI-agent runs for software changes.")
    .version(pkg.version)
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride((err: CommanderError) => {
      // Help and version are successes; anything else commander rejects is a usage error.
      throw err.exitCode === 0 ? err : new CommanderError(EXIT_USAGE, err.code, err.message);
    });
  const dir = new URL("./commands/", import.meta.url);
  const files = readdirSync(dir)
    .filter((f) => /\.(js|ts)$/.test(f) && !f.endsWith(".d.ts"))
    .sort();
  for (const file of files) {
    const mod = (await import(new URL(file, dir).href)) as { default: RegisterCommand };
    mod.default(program, ctx);
  }
  return program;
}
