// `orchestrator config check|docs`: validates the settings, or prints the README's settings table.
import type { Command } from "commander";
import { readFileSync, writeFileSync } from "node:fs";
import { settingsTable, withSettingsTable } from "../../config.js";
import type { CliContext } from "../context.js";

export default function register(program: Command, ctx: CliContext): void {
  const config = program.command("config").description("Inspect the orchestrator's settings.");
  config
    .command("check")
    .description("Validate the environment and .env; exit 2 listing every bad setting.")
    .action(() => {
      ctx.config();
      process.stdout.write("configuration is valid\n");
    });
  config
    .command("docs")
    .description("Print the Markdown table of every setting, or with --write rewrite it in README.md.")
    .option("--write <file>", "replace the table between the settings markers in this file")
    .action((opts: { write?: string }) => {
      if (!opts.write) return void process.stdout.write(`${settingsTable()}\n`);
      writeFileSync(opts.write, withSettingsTable(readFileSync(opts.write, "utf8")));
      process.stdout.write(`updated the settings table in ${opts.write}\n`);
    });
}
