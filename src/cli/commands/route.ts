// `orchestrator route`: which model a role gets for a run type and repository under the policy, and why.
import type { Command } from "commander";
import { decideRoute } from "../../router/decision.js";
import { Role, RunType } from "../../router/policy.js";
import { EXIT_USAGE, type CliContext } from "../context.js";
import { loadOrExit } from "./policy.js";

export default function register(program: Command, ctx: CliContext): void {
  program
    .command("route")
    .description("Show the routing decision for a role, run type and repository, and why. Exit 1 if the policy refuses the call.")
    .requiredOption("--role <role>", `one of ${Role.options.join(", ")}`)
    .requiredOption("--run-type <type>", `one of ${RunType.options.join(", ")}`)
    .requiredOption("--repo <repo>", "owner/name or group/project")
    .option("--sensitivity <level>", "override the level the policy gives the repo")
    .option("--policy <file>", "policy file (default: ROUTING_POLICY_PATH)")
    .action((o: { role: string; runType: string; repo: string; sensitivity?: string; policy?: string }) => {
      const role = Role.safeParse(o.role);
      const runType = RunType.safeParse(o.runType);
      if (!role.success || !runType.success) {
        process.stderr.write(!role.success ? `--role must be one of ${Role.options.join(", ")}, got "${o.role}"\n` : `--run-type must be one of ${RunType.options.join(", ")}, got "${o.runType}"\n`);
        process.exit(EXIT_USAGE);
      }
      const loaded = loadOrExit(o.policy ?? ctx.config().router.policyPath);
      const d = decideRoute(loaded, { role: role.data, runType: runType.data, repo: o.repo, sensitivity: o.sensitivity });
      const why = d.why.map((w) => `  - ${w}\n`).join("");
      if (!d.allowed) {
        process.stdout.write(`refused: ${d.reason}\nwhy:\n${why}policy_version: ${loaded.version}\n`);
        process.exit(1);
      }
      process.stdout.write(
        `model: ${d.chain[0]!.name} (${d.chain[0]!.model.provider}/${d.chain[0]!.model.id})\n` +
          `fallbacks: ${d.chain.slice(1).map((c) => c.name).join(", ") || "none"}\n` +
          `sensitivity: ${d.sensitivity} (${d.sensitivitySource})\nrule: ${d.rule}\nmax output tokens: ${d.maxOutputTokens}\n` +
          `why:\n${why}policy_version: ${loaded.version}\n`,
      );
    });
}
