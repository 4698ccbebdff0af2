// Seals new entries (validate payload, canonicalize once, hash) and decodes stored canonical bytes.
import { hash } from "node:crypto";
import canonicalize from "canonicalize";
import { entryPayloads, LedgerInputError, type Entry, type EntryType, type NewEntry } from "./port.js";

/** An entry with the exact bytes its hash covers; adapters store `bytes` and `entry.hash`. */
export interface SealedEntry {
  readonly entry: Entry;
  readonly bytes: Buffer;
}

/** Builds entry `seq` of `runId` after `prevHash`: the payload is validated, canonicalized (RFC 8785) once and hashed. */
export function sealEntry(runId: string, seq: number, prevHash: string, e: NewEntry, now: () => Date): SealedEntry {
  const schema = entryPayloads[e.type as EntryType] as (typeof entryPayloads)[EntryType] | undefined;
  if (!schema) throw new LedgerInputError(`${runId} seq ${seq}: unknown entry type ${JSON.stringify(e.type)}; use one of ${Object.keys(entryPayloads).join(", ")}`);
  const parsed = schema.safeParse(e.payload);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? `payload.${issue.path.join(".")}` : "payload";
    throw new LedgerInputError(`${runId} seq ${seq} (${e.type}): ${where} ${issue?.message ?? "is invalid"}`);
  }
  const when = e.at === undefined ? now() : new Date(e.at);
  if (Number.isNaN(when.getTime())) throw new LedgerInputError(`${runId} seq ${seq} (${e.type}): at must be an ISO 8601 time, got ${JSON.stringify(e.at)}`);
  // Always stored in UTC with milliseconds, so equal instants hash equally.
  const at = when.toISOString();
  const body = { at, payload: parsed.data as Record<string, unknown>, prev_hash: prevHash, run_id: runId, seq, type: e.type };
  const text = canonicalize(body);
  if (text === undefined) throw new LedgerInputError(`${runId} seq ${seq} (${e.type}): payload is not JSON-serialisable`);
  const bytes = Buffer.from(text, "utf8");
  return { entry: { ...body, hash: hash("sha256", bytes) }, bytes };
}

/** The entry stored as `bytes` under `storedHash` (not verified: `verify` does that). */
export function decodeEntry(bytes: Uint8Array | string, storedHash: string): Entry {
  const text = typeof bytes === "string" ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8");
  try {
    return { ...(JSON.parse(text) as Omit<Entry, "hash">), hash: storedHash };
  } catch {
    throw new Error(`the ledger entry with hash ${storedHash} is not readable JSON; run \`orchestrator ledger verify\` to find the damage`);
  }
}
