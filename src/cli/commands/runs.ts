// `orchestrator runs list|show`: runs from the ledger, newest first, and one run's record and entries.
import type { Command } from "commander";
import { RunStatus, type RunSummary } from "../../orchestrator/ledger/port.js";
import { MAX_PAGE } from "../../orchestrator/ledger/query.js";
import { runIdOrExit, withAuditStores } from "../audit-stores.js";
import { EXIT_USAGE, type CliContext } from "../context.js";

export default function register(program: Command, ctx: CliContext): void {
  const runs = program.command("runs").description("List and inspect runs recorded in the run ledger.");
  runs
    .command("list")
    .description("Runs newest first, optionally filtered; prints a cursor when there are more.")
    .option("--repo <repo>", "only runs scoped to this repository (owner/name or group/project)")
    .option("--status <status>", `one of ${RunStatus.options.join(", ")}`)
    .option("--subject <key>", "only runs about this PR/MR or Jira issue, e.g. github:acme/api#12, gitlab:grp/proj!7, jira:ABC-1")
    .option("--limit <n>", `runs per page (1-${MAX_PAGE})`, "50")
    .option("--cursor <cursor>", "the cursor printed by the previous page")
    .option("--json", "print the page as JSON")
    .action(async (o: { repo?: string; status?: string; subject?: string; limit: string; cursor?: string; json?: boolean }) => {
      const status = o.status === undefined ? undefined : RunStatus.safeParse(o.status);
      if (status && !status.success) usage(`--status must be one of ${RunStatus.options.join(", ")}, got "${o.status}"`);
      const limit = Number(o.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) usage(`--limit must be an integer from 1 to ${MAX_PAGE}, got "${o.limit}"`);
      await withAuditStores(ctx, async ({ ledger }) => {
        const page = await ledger.listRuns({ repo: o.repo, status: status?.data, subject: o.subject, limit, cursor: o.cursor });
        if (o.json) process.stdout.write(`${JSON.stringify(page, null, 2)}\n`);
        else {
          process.stdout.write(page.runs.length === 0 ? "no runs\n" : page.runs.map(line).join("\n") + "\n");
          if (page.next) process.stdout.write(`more: --cursor ${page.next}\n`);
        }
        return 0;
      });
    });
  runs
    .command("show <run-id>")
    .description("A run's record (projected from its ledger entries); --entries lists the entries too.")
    .option("--entries", "also list every entry: seq, time, type, hash")
    .option("--json", "print the record as JSON")
    .action(async (id: string, o: { entries?: boolean; json?: boolean }) => {
      const runId = runIdOrExit(id);
      await withAuditStores(ctx, async ({ ledger }) => {
        const record = await ledger.run(runId);
        if (!record) {
          process.stderr.write(`no run ${runId} in the ledger\n`);
          return 1;
        }
        if (o.json) process.stdout.write(`${JSON.stringify(record, null, 2)}\n`);
        else
          process.stdout.write(
            [
              `${record.run_id}  ${record.run_type}  ${record.status}`,
              `repo: ${record.repo_scope}${record.title ? `  title: ${record.title}` : ""}`,
              `subjects: ${record.subjects.join(", ") || "none"}  source: ${record.source.origin} ${record.source.event_id}`,
              `created: ${record.created_at}  updated: ${record.updated_at}  policy: ${record.policy_version}`,
              `model calls: ${record.model_calls.length} (${record.totals.input_tokens} in / ${record.totals.output_tokens} out tokens, $${record.totals.cost_usd.toFixed(4)})`,
              `artifacts: ${record.artifacts.length}  gates: ${record.gate_results.map((g) => `${g.gate}=${g.passed ? "pass" : "fail"}`).join(", ") || "none"}`,
              `approvals: ${record.approvals.map((a) => `${a.decision} by ${a.by}`).join(", ") || "none"}`,
              `ledger head: seq ${record.head.seq} ${record.head.hash}`,
            ].join("\n") + "\n",
          );
        if (o.entries)
          for (const e of await ledger.entries(runId)) process.stdout.write(`${String(e.seq).padStart(5)}  ${e.at}  ${e.type.padEnd(18)}  ${e.hash}\n`);
        return 0;
      });
    });
}

function line(r: RunSummary): string {
  return [r.run_id, r.run_type.padEnd(21), r.status.padEnd(14), r.repo_scope, r.updated_at, r.title ?? ""].join("  ").trimEnd();
}

function usage(message: string): never {
  process.stderr.write(`${message}\n`);
  return process.exit(EXIT_USAGE);
}
