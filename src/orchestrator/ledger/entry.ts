// Seals new entries (validate payload, canonicalize once, hash) and decodes stored canonical bytes.
import { hash } from "node:crypto";
import { canonicalJson } from "./canonical.js";
import { entryPayloads, LedgerInputError, type Entry, type EntryType, type NewEntry } from "./port.js";

/** An entry with the exact bytes its hash covers; adapters store `bytes` and `entry.hash`. */
export interface SealedEntry {
  readonly entry: Entry;
  readonly bytes: Buffer;
}

const HEX64 = /^[0-9a-f]{64}$/;
/** RFC 8785 refuses strings that are not well-formed UTF-16. */
const LONE_SURROGATE = /\p{Cs}/u;

/** The last time formatted: entries appended together mostly share their millisecond. */
let lastAt = { ms: Number.NaN, iso: "" };

/** Builds entry `seq` of `runId` after `prevHash`: the payload is validated, canonicalized (RFC 8785) once and hashed. */
export function sealEntry(runId: string, seq: number, prevHash: string, e: NewEntry, now: () => Date): SealedEntry {
  const type = e.type as EntryType;
  const schemas = entryPayloads();
  if (!Object.hasOwn(schemas, type)) throw new LedgerInputError(`${runId} seq ${seq}: unknown entry type ${JSON.stringify(e.type)}; use one of ${Object.keys(schemas).join(", ")}`);
  // The caller's payload is the untrusted part; every other field is set here.
  const parsed = schemas[type].safeParse(e.payload);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? `payload.${issue.path.join(".")}` : "payload";
    throw new LedgerInputError(`${runId} seq ${seq} (${type}): ${where} ${issue?.message ?? "is invalid"}`);
  }
  const when = e.at === undefined ? now() : new Date(e.at);
  const ms = when.getTime();
  if (Number.isNaN(ms)) throw new LedgerInputError(`${runId} seq ${seq} (${type}): at must be an ISO 8601 time, got ${JSON.stringify(e.at)}`);
  // Always stored in UTC with milliseconds, so equal instants hash equally.
  if (ms !== lastAt.ms) lastAt = { ms, iso: when.toISOString() };
  const at = lastAt.iso;
  const payload = parsed.data as Record<string, unknown>;
  let payloadText: string;
  try {
    payloadText = canonicalJson(payload);
  } catch (err) {
    throw new LedgerInputError(`${runId} seq ${seq} (${type}): payload is not JSON-serialisable (${(err as Error).message})`);
  }
  // The canonical form of the whole entry, built around the payload's: RFC 8785 orders the keys
  // at, payload, prev_hash, run_id, seq, type, and the ledger's own fields need no canonicalizing
  // (an ISO time, a hex hash, an integer and a known type name; the run id is JSON-quoted).
  if (!HEX64.test(prevHash)) throw new Error(`${runId}: the run's head hash ${JSON.stringify(prevHash)} is not a sha256; run \`orchestrator ledger verify\` to find the damage`);
  if (LONE_SURROGATE.test(runId)) throw new LedgerInputError(`run id ${JSON.stringify(runId)} is not well-formed Unicode`);
  const text = `{"at":"${at}","payload":${payloadText},"prev_hash":"${prevHash}","run_id":${JSON.stringify(runId)},"seq":${seq},"type":"${type}"}`;
  const bytes = Buffer.from(text, "utf8");
  return { entry: { at, payload, prev_hash: prevHash, run_id: runId, seq, type, hash: hash("sha256", bytes) }, bytes };
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
