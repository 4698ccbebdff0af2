// `orchestrator receive`: feeds one payload through the whole ingestion path (normalise, record, process) without HTTP.
import { randomUUID } from "node:crypto";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { Option, type Command } from "commander";
import { createGithubApp } from "../../handlers/github-app.js";
import { HttpError } from "../../handlers/http-error.js";
import { createIntake } from "../../intake.js";
import { buildRunServices } from "../../run-services.js";
import { openSqlite } from "../../store/sqlite.js";
import type { CliContext } from "../context.js";
import { checkSource, eventName } from "./normalize.js";
import { readPayload, usageError } from "../payload-input.js";

export default function register(program: Command, ctx: CliContext): void {
  program
    .command("receive")
    .description("Process one webhook payload as if it had arrived (like `probot receive`): dedupe, triggers, run requests and their runs (queued for the server's engine), replies.")
    .requiredOption("--source <source>", "github | gitlab | jira")
    .option("--event <name>", "vendor event name (X-GitHub-Event / X-Gitlab-Event; Jira: the body's webhookEvent)")
    .option("--file <path>", "payload file (default: standard input)")
    .option("--delivery-id <id>", "delivery id (default: a random UUID); the same id twice is processed once")
    // The name it had before `normalize`'s --delivery-id set the convention; still accepted.
    .addOption(new Option("--id <delivery-id>").hideHelp())
    .action(async (opts: { source: string; event?: string; file?: string; deliveryId?: string; id?: string }) => {
      const source = checkSource(opts.source);
      const { raw, payload } = await readPayload(opts.file);
      const name = eventName(source, opts.event, payload);
      const config = ctx.config();
      const logger = ctx.logger(config);
      const dataDir = path.resolve(config.data.dir);
      mkdirSync(dataDir, { recursive: true });
      const dbFile = path.join(dataDir, "orchestrator.db");
      const db = openSqlite(dbFile, { synchronous: config.data.sqliteSynchronous });
      // Like the server: a trigger's run is recorded in the ledger and queued on the engine. This
      // one-shot process executes no steps; the server's engine (same DATA_DIR or Step Functions) runs them.
      const services = await buildRunServices({ config, dataDir, db, dbFile, logger, env: ctx.env(), takeWork: false });
      const intake = createIntake(config, db, createGithubApp(config, logger), logger, { engine: services.engine, ledger: services.audit.ledger });
      try {
        const id = opts.deliveryId ?? opts.id ?? randomUUID();
        const ack = await intake.sink
          .accept({ source, id, name, headers: {}, rawBody: raw, payload, receivedAt: new Date() })
          .catch((err: unknown) => (err instanceof HttpError ? usageError(err.message) : Promise.reject(err)));
        await intake.worker.idle();
        const row = intake.queue.get(source, id);
        process.stdout.write(`${JSON.stringify({ delivery_id: id, ...ack, processing: row ? { status: row.status, attempts: row.attempts, outcome: row.outcome, last_error: row.last_error } : null }, null, 2)}\n`);
      } finally {
        await intake.close();
        for (const close of [...services.closers].reverse()) await close();
        db.close();
      }
    });
}
