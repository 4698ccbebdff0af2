// `orchestrator schemas`: writes the event, run-request and repo-config JSON Schemas and the slash-command table into docs/.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { generatedSchemaFiles, withCommandTable } from "../ingest-docs.js";
import type { CliContext } from "../context.js";

export default function register(program: Command, _ctx: CliContext): void {
  program
    .command("schemas")
    .description("Regenerate docs/*.schema.json (event, run request, orchestrator.yml) and the slash-command table in docs/events.md.")
    .option("--root <dir>", "repository root", ".")
    .action((opts: { root: string }) => {
      for (const [file, content] of Object.entries(generatedSchemaFiles())) {
        writeFileSync(path.join(opts.root, file), content);
        process.stdout.write(`wrote ${file}\n`);
      }
      const events = path.join(opts.root, "docs", "events.md");
      writeFileSync(events, withCommandTable(readFileSync(events, "utf8")));
      process.stdout.write("updated the command table in docs/events.md\n");
    });
}
