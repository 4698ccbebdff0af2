#!/usr/bin/env node
// Entry point of the `orchestrator` command.
import { CommanderError } from "commander";
import { createProgram } from "./cli/program.js";

const program = await createProgram();
try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
