// `orchestrator ledger verify`: re-hashes every stored entry and walks the chains; exit 1 names the first problem.
import { availableParallelism } from "node:os";
import type { Command } from "commander";
import { runIdOrExit, withAuditStores } from "../audit-stores.js";
import { EXIT_USAGE, type CliContext } from "../context.js";

export default function register(program: Command, ctx: CliContext): void {
  const ledger = program.command("ledger").description("Check the append-only, hash-chained run ledger.");
  ledger
    .command("verify")
    .description("Verify every run's hash chain (or one run's). Exit 0 with the count when intact; exit 1 naming the first bad run, seq and problem.")
    .option("--run <run-id>", "verify only this run")
    .option("--workers <n>", "worker threads for the embedded ledger (default: one per core)")
    .action(async (o: { run?: string; workers?: string }) => {
      const runId = o.run === undefined ? undefined : runIdOrExit(o.run);
      const workers = o.workers === undefined ? availableParallelism() : Number(o.workers);
      if (!Number.isInteger(workers) || workers < 1 || workers > 64) {
        process.stderr.write(`--workers must be an integer from 1 to 64, got "${o.workers}"\n`);
        process.exit(EXIT_USAGE);
      }
      await withAuditStores(ctx, async (stores) => {
        const report = await stores.ledger.verify({ runId, workers });
        if (runId && report.runs === 0 && report.entries === 0) {
          process.stderr.write(`no run ${runId} in the ledger\n`);
          return 1;
        }
        if (report.ok) {
          process.stdout.write(`ledger intact: ${report.entries} entries in ${report.runs} runs verified\n`);
          return 0;
        }
        const p = report.problem;
        process.stdout.write(`ledger verification FAILED: run ${p.runId} seq ${p.seq}: ${p.kind}: ${p.message}\n`);
        return 1;
      });
    });
}
