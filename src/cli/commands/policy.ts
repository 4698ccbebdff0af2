// `orchestrator policy check|schema`: validates a routing policy and prints its version and routes, or its JSON Schema.
import { writeFileSync } from "node:fs";
import type { Command } from "commander";
import { loadPolicyFile, PolicyError, policyJsonSchema, type LoadedPolicy } from "../../router/policy.js";
import { EXIT_USAGE, type CliContext } from "../context.js";

export default function register(program: Command, ctx: CliContext): void {
  const policy = program.command("policy").description("Check the model routing policy (routing-policy.yaml).");
  policy
    .command("check")
    .argument("[file]", "policy file (default: ROUTING_POLICY_PATH)")
    .description("Validate the policy; print its policy_version and a table of its routes. Exit 1 naming file, line and path of every problem.")
    .action((file: string | undefined) => {
      const loaded = loadOrExit(file ?? ctx.config().router.policyPath);
      process.stdout.write(`${file ?? loaded.file}: valid\npolicy_version: ${loaded.version}\n\n${routesTable(loaded)}\n\n${levelsTable(loaded)}\n`);
    });
  policy
    .command("schema")
    .description("Print the policy's JSON Schema, or with --write write it to a file (docs/routing-policy.schema.json).")
    .option("--write <file>", "write the schema to this file")
    .action((opts: { write?: string }) => {
      const text = `${JSON.stringify(policyJsonSchema(), null, 2)}\n`;
      if (!opts.write) return void process.stdout.write(text);
      writeFileSync(opts.write, text);
      process.stdout.write(`wrote ${opts.write}\n`);
    });
}

/** Loads a policy or exits: 2 when the file cannot be read, 1 when it is invalid. */
export function loadOrExit(file: string): LoadedPolicy {
  try {
    return loadPolicyFile(file);
  } catch (err) {
    if (!(err instanceof PolicyError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(err.readError ? EXIT_USAGE : 1);
  }
}

function routesTable(l: LoadedPolicy): string {
  const list = (v: string | readonly string[] | undefined) => (v === undefined ? "*" : Array.isArray(v) ? v.join(", ") : String(v));
  const rows = l.policy.rules.map((r, i) => {
    const providerOf = (m: string) => `${m} (${l.policy.models[m]!.provider})`;
    return [
      r.name ?? `rules[${i}]`,
      list(r.when.role),
      list(r.when.run_type),
      list(r.when.repo),
      list(r.when.sensitivity),
      [r.model, ...r.fallbacks].map(providerOf).join(" → "),
    ];
  });
  return markdown(["rule", "role", "run_type", "repo", "sensitivity", "model → fallbacks"], rows);
}

function levelsTable(l: LoadedPolicy): string {
  const rows = Object.entries(l.policy.sensitivity.levels).map(([name, lvl]) => [
    name + (name === l.policy.sensitivity.default ? " (default)" : ""),
    lvl.approved_providers.join(", ") || "none: every call refused",
    lvl.disallowed_data_classes.join(", ") || "—",
  ]);
  return markdown(["sensitivity", "approved providers", "disallowed data classes"], rows);
}

export function markdown(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n");
}
