// Walks stored entries and checks their hash chain; shared by every ledger adapter and the verify workers.
import { hash } from "node:crypto";
// Only node:crypto and types: this module is loaded by every verify worker thread, so it stays light.
import type { VerifyProblem, VerifyProblemKind, VerifyReport } from "./port.js";

/** prev_hash of a run's first entry (seq 0). */
export const GENESIS_HASH = "0".repeat(64);

/**
 * The canonical bytes end with these fields (RFC 8785 sorts keys: at, payload, prev_hash,
 * run_id, seq, type), so a verifier can check an entry's position without parsing it:
 * `,"prev_hash":"<hex>","run_id":"<id>","seq":<n>,"type":"<type>"}`.
 */
const PREV_KEY = Buffer.from(`,"prev_hash":"`, "latin1");
const TYPE_KEY = Buffer.from(`,"type":"`, "latin1");
const CLOSE = Buffer.from(`"}`, "latin1");

/** The tail's middle for one run, `","run_id":"<id>","seq":`, as UTF-8 bytes (built once per run). */
function runIdPart(runId: string): Buffer {
  return Buffer.from(`","run_id":${JSON.stringify(runId)},"seq":`, "utf8");
}

/**
 * One stored entry as an adapter reads it: [scan position, run_id, seq, type, hash, canonical bytes].
 * A tuple, because SQLite hands rows over as arrays and verify touches millions of them. The
 * position (rowid or scan index) orders problems: the smallest one is the "first". The bytes
 * are a string only if someone rewrote the column as text (verify then reports it).
 */
export type StoredRow = readonly [pos: number, runId: string, seq: number, type: string, hash: string, body: Uint8Array | string];

/** What one run looks like within one scanned segment: its first and last entries there. */
export interface RunSegment {
  readonly runId: string;
  readonly firstPos: number;
  readonly firstSeq: number;
  /** prev_hash stated by the first entry's bytes. */
  readonly firstPrev: string;
  lastSeq: number;
  lastHash: string;
}

export interface SegmentResult {
  readonly entries: number;
  readonly runs: RunSegment[];
  readonly problem?: { readonly pos: number; readonly problem: VerifyProblem };
}

const problem = (runId: string, seq: number, kind: VerifyProblemKind, message: string): VerifyProblem => ({ runId, seq, kind, message });

/**
 * Checks a segment of rows in scan order. Each run's rows must be in seq order within the
 * segment (appends insert them so); links into earlier segments are checked by `mergeSegments`.
 */
export function walkSegment(rows: Iterable<StoredRow>): SegmentResult {
  const seen = new Map<string, { seg: RunSegment; idPart: Buffer }>();
  const runs: RunSegment[] = [];
  let entries = 0;
  // Indexed reads, not destructuring: this loop runs once per stored entry.
  for (const row of rows) {
    const pos = row[0];
    const runId = row[1];
    const seq = row[2];
    const type = row[3];
    const storedHash = row[4];
    const stored = row[5];
    entries++;
    const body = typeof stored === "string" ? Buffer.from(stored, "utf8") : stored;
    const actual = hash("sha256", body);
    if (actual !== storedHash) return fail(pos, problem(runId, seq, "edited", `stored bytes hash to ${actual} but the entry's hash is ${storedHash} (entry edited)`));
    const state = seen.get(runId);
    if (!state) {
      const tail = readTail(body);
      if (typeof tail === "string") return fail(pos, problem(runId, seq, "unreadable", tail));
      const bad = positionProblem(runId, seq, type, tail, seq, tail.prev_hash);
      if (bad) return fail(pos, bad);
      const seg: RunSegment = { runId, firstPos: pos, firstSeq: seq, firstPrev: tail.prev_hash, lastSeq: seq, lastHash: storedHash };
      seen.set(runId, { seg, idPart: runIdPart(runId) });
      runs.push(seg);
      continue;
    }
    const seg = state.seg;
    const expectedSeq = seg.lastSeq + 1;
    // Fast path: the bytes end exactly as entry `expectedSeq` linked to the previous hash must.
    if (seq !== expectedSeq || !hasTail(body, seg.lastHash, state.idPart, seq, type)) {
      const tail = readTail(body);
      if (typeof tail === "string") return fail(pos, problem(runId, seq, "unreadable", tail));
      return fail(pos, positionProblem(runId, seq, type, tail, expectedSeq, seg.lastHash) ?? problem(runId, seq, "edited", "entry columns disagree with its bytes"));
    }
    seg.lastSeq = seq;
    seg.lastHash = storedHash;
  }
  return { entries, runs };

  function fail(pos: number, p: VerifyProblem): SegmentResult {
    return { entries, runs, problem: { pos, problem: p } };
  }
}

/**
 * Whether `body` ends with `,"prev_hash":"<prev>","run_id":"<id>","seq":<seq>,"type":"<type>"}`,
 * compared in place from the end (no string is built per row). `prev` is hex and `type` an
 * entry type name, so both compare as single bytes; a non-ASCII type simply does not match.
 */
function hasTail(body: Uint8Array, prev: string, idPart: Uint8Array, seq: number, type: string): boolean {
  let i = endsBefore(body, body.byteLength, CLOSE);
  for (let k = type.length - 1; k >= 0 && i >= 0; k--) if (body[--i] !== type.charCodeAt(k)) return false;
  i = endsBefore(body, i, TYPE_KEY);
  if (i < 0) return false;
  let n = seq;
  do {
    if (body[--i] !== 48 + (n % 10)) return false;
    n = Math.floor(n / 10);
  } while (n > 0);
  i = endsBefore(body, i, idPart);
  if (i < prev.length) return false;
  for (let k = prev.length - 1; k >= 0; k--) if (body[--i] !== prev.charCodeAt(k)) return false;
  return endsBefore(body, i, PREV_KEY) >= 0;
}

/** The index where `part` starts if `body[..end)` ends with it, else -1. */
function endsBefore(body: Uint8Array, end: number, part: Uint8Array): number {
  const start = end - part.length;
  if (start < 0) return -1;
  for (let k = 0; k < part.length; k++) if (body[start + k] !== part[k]) return -1;
  return start;
}

interface Tail {
  prev_hash: string;
  run_id: string;
  seq: number;
  type: string;
}

/** The position fields of an entry, parsed from its bytes (slow path, for the first row of a run and for diagnosis). */
function readTail(body: Uint8Array): Tail | string {
  try {
    const v = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("utf8")) as Partial<Tail>;
    if (typeof v.prev_hash !== "string" || typeof v.run_id !== "string" || typeof v.seq !== "number" || typeof v.type !== "string")
      return "stored bytes are not a ledger entry (missing prev_hash, run_id, seq or type)";
    return v as Tail;
  } catch {
    return "stored bytes are not JSON";
  }
}

/** Why the entry stored as (`runId`, `seq`, `type`) whose bytes say `tail` does not belong at `expectedSeq` after `expectedPrev`. */
function positionProblem(runId: string, seq: number, type: string, tail: Tail, expectedSeq: number, expectedPrev: string): VerifyProblem | undefined {
  if (tail.run_id !== runId) return problem(runId, seq, "reordered", `the entry stored here belongs to ${tail.run_id} seq ${tail.seq} (entries moved)`);
  if (seq !== tail.seq) {
    return tail.seq === expectedSeq
      ? problem(runId, expectedSeq, "reordered", `entry seq ${tail.seq} is stored under seq ${seq} (entries reordered)`)
      : problem(runId, seq, "reordered", `the entry stored at seq ${seq} is seq ${tail.seq} (entries reordered)`);
  }
  if (seq > expectedSeq)
    return problem(runId, expectedSeq, "deleted", `seq ${expectedSeq}${seq - 1 > expectedSeq ? `..${seq - 1}` : ""} missing; the next stored entry is seq ${seq} (entry deleted)`);
  if (seq < expectedSeq) return problem(runId, seq, "reordered", `seq ${seq} appears again after seq ${expectedSeq - 1} (entries reordered or duplicated)`);
  if (tail.type !== type) return problem(runId, seq, "edited", `entry type column says ${type} but its bytes say ${tail.type} (entry edited)`);
  if (tail.prev_hash !== expectedPrev)
    return problem(runId, seq, "chain_broken", `prev_hash ${tail.prev_hash} is not the hash of seq ${seq - 1} (${expectedPrev}): seq ${seq - 1} was rewritten or replaced`);
  return undefined;
}

/** A run's head as its adapter stores it: the last entry it says exists. */
export interface RunHead {
  readonly runId: string;
  readonly seq: number;
  readonly hash: string;
}

/**
 * Joins segments (in scan order) into a report: links each run's segments, checks every run
 * starts at seq 0 from the genesis hash, and that each head names the last stored entry.
 */
export function mergeSegments(segments: readonly SegmentResult[], heads: Iterable<RunHead>): VerifyReport {
  const chains = new Map<string, { lastSeq: number; lastHash: string }>();
  let entries = 0;
  let first: { pos: number; problem: VerifyProblem } | undefined;
  const note = (pos: number, p: VerifyProblem) => {
    if (!first || pos < first.pos) first = { pos, problem: p };
  };
  for (const seg of segments) {
    entries += seg.entries;
    if (seg.problem) note(seg.problem.pos, seg.problem.problem);
    for (const r of seg.runs) {
      const prev = chains.get(r.runId);
      const expectedSeq = prev ? prev.lastSeq + 1 : 0;
      const expectedPrev = prev ? prev.lastHash : GENESIS_HASH;
      if (r.firstSeq > expectedSeq)
        note(r.firstPos, problem(r.runId, expectedSeq, "deleted", `seq ${expectedSeq}${r.firstSeq - 1 > expectedSeq ? `..${r.firstSeq - 1}` : ""} missing; the next stored entry is seq ${r.firstSeq} (entry deleted)`));
      else if (r.firstSeq < expectedSeq) note(r.firstPos, problem(r.runId, r.firstSeq, "reordered", `seq ${r.firstSeq} appears again after seq ${expectedSeq - 1} (entries reordered or duplicated)`));
      else if (r.firstPrev !== expectedPrev)
        note(r.firstPos, problem(r.runId, r.firstSeq, "chain_broken", `prev_hash ${r.firstPrev} is not the hash of ${expectedSeq === 0 ? "the genesis (64 zeros)" : `seq ${expectedSeq - 1} (${expectedPrev})`}`));
      chains.set(r.runId, { lastSeq: r.lastSeq, lastHash: r.lastHash });
    }
  }
  if (first) return { ok: false, runs: chains.size, entries, problem: first.problem };
  let runs = 0;
  for (const h of heads) {
    runs++;
    const chain = chains.get(h.runId);
    chains.delete(h.runId);
    if (!chain) return { ok: false, runs, entries, problem: problem(h.runId, 0, "truncated", `the run's head says seq ${h.seq} but no entries are stored (entries truncated)`) };
    if (chain.lastSeq < h.seq)
      return { ok: false, runs, entries, problem: problem(h.runId, chain.lastSeq + 1, "truncated", `the run's head says seq ${h.seq} but the last stored entry is seq ${chain.lastSeq} (entries truncated)`) };
    if (chain.lastSeq === h.seq && chain.lastHash !== h.hash)
      return { ok: false, runs, entries, problem: problem(h.runId, h.seq, "head_mismatch", `the last entry hashes to ${chain.lastHash} but the run's head says ${h.hash} (last entry rewritten)`) };
    // A head behind its chain is a crash between writing entries and moving the head (DynamoDB has no transactions); not tampering.
  }
  for (const [runId, chain] of chains)
    return { ok: false, runs, entries, problem: problem(runId, chain.lastSeq, "head_missing", `entries up to seq ${chain.lastSeq} exist but the run has no head record (run record deleted)`) };
  return { ok: true, runs, entries };
}
