// `orchestrator workflows list|asl|deploy`: the run types' workflows, their ASL, and deploying them to Step Functions.
import type { Command } from "commander";
import { compileToAsl, placeholderTargets } from "../../orchestrator/engine/asl.js";
import { deployStateMachines } from "../../orchestrator/engine/sfn-deploy.js";
import { aslTargets, preflightClients, requireStepFunctions, sfnClient, stateMachineNaming } from "../../orchestrator/engine/wire.js";
import { builtinCatalog, definitionDigest, workflows } from "../../orchestrator/workflows/index.js";
import { runsInContainer } from "../../orchestrator/workflows/schema.js";
import { EXIT_USAGE, type CliContext } from "../context.js";

export default function register(program: Command, ctx: CliContext): void {
  const cmd = program.command("workflows").description("The workflow of each run type: list them, print their ASL, deploy them to AWS Step Functions.");
  cmd
    .command("list")
    .description("Each workflow: name, run type, version, digest and steps.")
    .option("--json", "print the definitions as JSON")
    .action((o: { json?: boolean }) => {
      if (o.json) return void process.stdout.write(`${JSON.stringify(workflows, null, 2)}\n`);
      const lines = workflows.map((w) => {
        const steps = w.steps.map((s) => `${s.id}${runsInContainer(s.activity) ? "*" : ""}`).join(" → ");
        return `${w.name}  ${w.run_type}  v${w.version}  sha256:${definitionDigest(w).slice(0, 12)}\n  ${steps}  (on failure: ${w.on_failure.id})`;
      });
      process.stdout.write(`${lines.join("\n")}\n(* runs in a container next to the run's workspace: an agent, or the gates)\n`);
    });
  cmd
    .command("asl <name>")
    .description("Print a workflow compiled to Amazon States Language (with ${…} placeholders where the AWS settings are not set).")
    .action((name: string) => {
      const def = builtinCatalog().named(name);
      if (!def) {
        process.stderr.write(`no workflow named ${JSON.stringify(name)}; one of ${workflows.map((w) => w.name).join(", ")}\n`);
        process.exit(EXIT_USAGE);
      }
      const targets = aslTargets(ctx.config());
      if (!targets) process.stderr.write("AWS settings not all set: printing ${…} placeholders (CloudFormation DefinitionSubstitutions)\n");
      process.stdout.write(`${JSON.stringify(compileToAsl(def, targets ?? placeholderTargets), null, 2)}\n`);
    });
  cmd
    .command("deploy")
    .description("Create or update one Standard state machine per workflow, after checking the task definition and the activity Lambda.")
    .option("--dry-run", "make only the read calls (needs credentials and the SFN_/ECS_ settings) and print the requests instead of sending them")
    .action(async (o: { dryRun?: boolean }) => {
      const config = ctx.config();
      try {
        requireStepFunctions(config);
      } catch (err) {
        process.stderr.write(`${(err as Error).message}\n`);
        process.exit(EXIT_USAGE);
      }
      const sfn = sfnClient(config);
      const preflight = preflightClients(config);
      try {
        const actions = await deployStateMachines({
          sfn,
          naming: stateMachineNaming(config),
          roleArn: config.engine.sfnRoleArn!,
          targets: aslTargets(config)!,
          // One state machine per workflow: running executions keep the definition they started with.
          definitions: builtinCatalog().latest(),
          dryRun: Boolean(o.dryRun),
          preflight,
        });
        for (const a of actions) {
          const name = a.action === "create" ? a.request.name : a.request.stateMachineArn;
          if (o.dryRun) {
            process.stdout.write(`would ${a.action} ${name}:\n${JSON.stringify({ ...a.request, definition: JSON.parse(a.request.definition!) }, null, 2)}\n`);
            if (a.action === "update") process.stdout.write(`would tag ${name}: ${JSON.stringify(a.tag.tags)}\n`);
          }
          else process.stdout.write(`${a.action === "create" ? "created" : "updated"} ${name}\n`);
        }
      } catch (err) {
        process.stderr.write(`deploy failed: ${(err as Error).message}\n`);
        process.exitCode = 1;
      } finally {
        sfn.destroy();
        preflight.ecs.destroy();
        preflight.lambda.destroy();
      }
    });
}
