#!/usr/bin/env node
// Entry point of the `orchestrator` command.
import { CommanderError } from "commander";

// Checked before anything else loads: on an older Node the first import of node:sqlite would fail with a stack trace.
const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 13)) {
  process.stderr.write(`orchestrator needs Node.js 22.13 or newer (24 LTS recommended, see .nvmrc); this is ${process.version}.\n`);
  process.exit(2);
}
const { createProgram } = await import("./cli/program.js");
const program = await createProgram();
try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
