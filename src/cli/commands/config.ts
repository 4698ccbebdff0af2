// `orchestrator config check|docs`: validates the settings, or prints the README's settings table.
import type { Command } from "commander";
import { settingsTable } from "../../config.js";
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
    .description("Print the Markdown table of every setting (the README's Settings section).")
    .action(() => {
      process.stdout.write(`${settingsTable()}\n`);
    });
}
