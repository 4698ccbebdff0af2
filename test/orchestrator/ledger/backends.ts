// The ledger backends the contract suite runs against, each with a way to tamper with its store directly.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import { DeleteItemCommand, GetItemCommand, PutItemCommand, type AttributeValue } from "@aws-sdk/client-dynamodb";
import { dynamoLedger } from "../../../src/orchestrator/ledger/dynamodb.js";
import type { Ledger } from "../../../src/orchestrator/ledger/port.js";
import { sqliteLedger } from "../../../src/orchestrator/ledger/sqlite.js";
import { openSqlite } from "../../../src/store/sqlite.js";
import { startDynalite } from "../../helpers/aws-local.js";

/** Direct edits of the stored entries, bypassing the ledger (what an attacker with store access could do). */
export interface Tamper {
  /** Replaces the stored bytes of an entry, keeping its hash. */
  editBytes(runId: string, seq: number, edit: (body: Buffer) => Buffer): Promise<void>;
  remove(runId: string, seq: number): Promise<void>;
  /** Swaps the stored contents (bytes + hash) of two entries. */
  swap(runId: string, a: number, b: number): Promise<void>;
}

export interface Backend {
  readonly name: string;
  readonly ledger: Ledger;
  readonly tamper: Tamper;
  /** A second, independent ledger over the same store (another process's view). */
  second(): Promise<Ledger>;
  readonly file?: string;
  close(): Promise<void>;
}

export async function sqliteBackend(): Promise<Backend> {
  const dir = mkdtempSync(path.join(tmpdir(), "ledger-"));
  const file = path.join(dir, "orchestrator.db");
  const db = openSqlite(file, { synchronous: "NORMAL" });
  const others: DatabaseSync[] = [];
  const raw = () => {
    const d = new DatabaseSync(file);
    d.exec("DROP TRIGGER IF EXISTS ledger_entries_no_update; DROP TRIGGER IF EXISTS ledger_entries_no_delete;");
    return d;
  };
  const tamper: Tamper = {
    async editBytes(runId, seq, edit) {
      const d = raw();
      const row = d.prepare("SELECT body FROM ledger_entries WHERE run_id = ? AND seq = ?").get(runId, seq) as { body: Uint8Array };
      d.prepare("UPDATE ledger_entries SET body = ? WHERE run_id = ? AND seq = ?").run(edit(Buffer.from(row.body)), runId, seq);
      d.close();
    },
    async remove(runId, seq) {
      const d = raw();
      d.prepare("DELETE FROM ledger_entries WHERE run_id = ? AND seq = ?").run(runId, seq);
      d.close();
    },
    async swap(runId, a, b) {
      const d = raw();
      const get = d.prepare("SELECT hash, body FROM ledger_entries WHERE run_id = ? AND seq = ?");
      const ra = get.get(runId, a) as { hash: string; body: Uint8Array };
      const rb = get.get(runId, b) as { hash: string; body: Uint8Array };
      const set = d.prepare("UPDATE ledger_entries SET hash = ?, body = ? WHERE run_id = ? AND seq = ?");
      set.run(rb.hash, rb.body, runId, a);
      set.run(ra.hash, ra.body, runId, b);
      d.close();
    },
  };
  return {
    name: "sqlite",
    ledger: sqliteLedger({ db, file }),
    tamper,
    file,
    async second() {
      const d = openSqlite(file, { synchronous: "NORMAL" });
      others.push(d);
      return sqliteLedger({ db: d, file });
    },
    async close() {
      for (const d of others) d.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function dynamoBackend(): Promise<Backend> {
  const local = await startDynalite();
  const table = `ledger-${Math.random().toString(36).slice(2, 8)}`;
  const { client } = local;
  const key = (runId: string, seq: number): Record<string, AttributeValue> => ({ pk: { S: `RUN#${runId}` }, sk: { S: `E#${String(seq).padStart(10, "0")}` } });
  const get = async (runId: string, seq: number) => (await client.send(new GetItemCommand({ TableName: table, Key: key(runId, seq), ConsistentRead: true }))).Item!;
  const put = (item: Record<string, AttributeValue>) => client.send(new PutItemCommand({ TableName: table, Item: item }));
  const tamper: Tamper = {
    async editBytes(runId, seq, edit) {
      const item = await get(runId, seq);
      await put({ ...item, body: { B: edit(Buffer.from(item.body!.B!)) } });
    },
    async remove(runId, seq) {
      await client.send(new DeleteItemCommand({ TableName: table, Key: key(runId, seq) }));
    },
    async swap(runId, a, b) {
      const [ia, ib] = [await get(runId, a), await get(runId, b)];
      await put({ ...ia, hash: ib.hash!, body: ib.body!, type: ib.type! });
      await put({ ...ib, hash: ia.hash!, body: ia.body!, type: ia.type! });
    },
  };
  return {
    name: "dynamodb",
    ledger: await dynamoLedger({ client, table, createTable: true }),
    tamper,
    async second() {
      return dynamoLedger({ client, table });
    },
    close: () => local.close(),
  };
}
