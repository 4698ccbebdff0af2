// Opens the audit backends (ledger, artifacts, signer, evidence) for one CLI command, and turns bad ids into usage errors.
import path from "node:path";
import { buildAuditStores, type AuditStores } from "../orchestrator/evidence/wire.js";
import { RunId } from "../orchestrator/ledger/port.js";
import { openSqlite } from "../store/sqlite.js";
import { EXIT_USAGE, type CliContext } from "./context.js";

/** Runs `fn` with the configured stores, closing them afterwards; the exit code is whatever `fn` returns. */
export async function withAuditStores(ctx: CliContext, fn: (stores: AuditStores) => Promise<number>): Promise<never> {
  const config = ctx.config();
  const dataDir = path.resolve(config.data.dir);
  const dbFile = path.join(dataDir, "orchestrator.db");
  const db = openSqlite(dbFile, { synchronous: config.data.sqliteSynchronous });
  let code: number;
  try {
    const stores = await buildAuditStores({ config, dataDir, db, dbFile });
    try {
      code = await fn(stores);
    } finally {
      await stores.close();
    }
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    code = 1;
  } finally {
    db.close();
  }
  process.exit(code);
}

/** Exits 2 unless `value` is a run id. */
export function runIdOrExit(value: string): string {
  const parsed = RunId.safeParse(value);
  if (parsed.success) return parsed.data;
  process.stderr.write(`"${value}" is not a run id: ${parsed.error.issues[0]?.message}\n`);
  return process.exit(EXIT_USAGE);
}
