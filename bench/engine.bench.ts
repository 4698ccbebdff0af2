// Workflow engine: durable per-step overhead vs the raw step-transition floor and vs aws-local-stepfunctions; 10,000 parked runs.
import { execFileSync } from "node:child_process";
import { hash } from "node:crypto";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { StateMachine } from "aws-local-stepfunctions";
import canonicalize from "canonicalize";
import { build } from "esbuild";
import { ActivityRegistry } from "../src/orchestrator/activities/registry.js";
import { compileToAsl, placeholderTargets } from "../src/orchestrator/engine/asl.js";
import { EmbeddedEngine } from "../src/orchestrator/engine/embedded.js";
import type { TransactionalLedger } from "../src/orchestrator/ledger/port.js";
import { sqliteLedger } from "../src/orchestrator/ledger/sqlite.js";
import type { RunRequest } from "../src/orchestrator/run-request.js";
import { WorkflowCatalog, type WorkflowDefinition } from "../src/orchestrator/workflows/index.js";
import { initialState } from "../src/orchestrator/workflows/run-state.js";
import { ActivityName } from "../src/orchestrator/workflows/schema.js";
import { inTransaction, openSqlite, type DatabaseSync } from "../src/store/sqlite.js";
import { parkDefinition, stepsDefinition } from "./engine-workflows.js";
import { fmt, median, rounds, table } from "./lib.js";

type Sync = "FULL" | "NORMAL";
const ROUNDS = 3;
/** Commits per FULL measurement: the floor and the storage step; the engine's 22-step runs commit about as often. */
const STEADY_COMMITS = 4_600;
const STEADY_RUNS = 200;
const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(path.join(tmpdir(), "bench-engine-"));
  dirs.push(d);
  return d;
};

/** A run request whose state is about `bytes` long (labels pad it): tiny, or the size of a webhook payload. */
let seq = 0;
function runRequest(bytes: number, repo = "acme/api", runType: RunRequest["run_type"] = "watcher_investigation"): RunRequest {
  seq++;
  const labels = bytes > 1_000 ? Array.from({ length: Math.ceil((bytes - 900) / 42) }, (_, i) => `label-${i}-${"x".repeat(30)}`) : [];
  return {
    run_type: runType,
    repo: { forge: "github", host: "github.com", full_path: repo, default_branch: "main", id: "1", installation_id: 1 },
    subject: { type: "issue", number: 7, key: null, title: "Watcher finding", url: null, state: "open", head_sha: null, head_ref: null, base_ref: null, is_fork: null, labels },
    requested_by: { source: "github", login: "bench", id: null },
    idempotency_key: `bench:${seq}:${Math.random()}`,
    event_id: `bench-${seq}`,
    trigger: "bench",
    stop_after: null,
    jira_issue: null,
  };
}

// -------------------------------------------------------------------------------------------
// The floor: one step transition = update the run row + append one hashed entry, one commit.
// -------------------------------------------------------------------------------------------
/** A store and the commit of its i-th step transition. */
interface StepStore {
  readonly db: DatabaseSync;
  readonly file: string;
  step(i: number): void;
}

function floorStore(sync: Sync, stateBytes: number): StepStore {
  const file = path.join(tempDir(), "floor.db");
  const db = openSqlite(file, { synchronous: sync });
  db.exec(`CREATE TABLE runs (run_id TEXT PRIMARY KEY, step INTEGER, state TEXT);
           CREATE TABLE entries (id INTEGER PRIMARY KEY, run_id TEXT, seq INTEGER, hash TEXT, body BLOB, UNIQUE (run_id, seq));`);
  const state = JSON.stringify({ pad: "x".repeat(stateBytes) });
  db.prepare("INSERT INTO runs VALUES ('r', 0, ?)").run(state);
  const update = db.prepare("UPDATE runs SET step = ?, state = ? WHERE run_id = 'r'");
  const insert = db.prepare("INSERT INTO entries (run_id, seq, hash, body) VALUES ('r', ?, ?, ?)");
  let prev = "0".repeat(64);
  return {
    db,
    file,
    step(i) {
      db.exec("BEGIN IMMEDIATE");
      update.run(i, state);
      const bytes = Buffer.from(canonicalize({ at: new Date().toISOString(), payload: { step: `step_${i}`, attempt: 1 }, prev_hash: prev, run_id: "r", seq: i, type: "step_finished" })!);
      prev = hash("sha256", bytes);
      insert.run(i, prev, bytes);
      db.exec("COMMIT");
    },
  };
}

/**
 * What one engine step writes, through the real ledger and the engine's own tables, with no
 * engine code around it (no scheduling, no activity, no transition logic): the step's two
 * entries (step_finished + the next step_started) and the run row, one commit. The difference
 * to the floor is the storage layout's; the difference to the engine, the engine's code.
 */
async function storageStore(sync: Sync): Promise<StepStore> {
  const h = harness(sync, stepsDefinition(2), 1);
  const { runId } = await h.engine.start(runRequest(900));
  // Fenced like the engine's own write: on the lease token and phase of the row in hand.
  const update = h.db.prepare(
    "UPDATE engine_runs SET step_id = ?, started_attempt = 1, step_started_at = ?, ledger_seq = ?, updated_at = ?, state = ? WHERE run_id = ? AND lease_token = 0 AND phase = 'ready'",
  );
  const steps: Record<string, { output: Record<string, never> }> = {};
  let seq = (await h.ledger.entries(runId)).length;
  return {
    db: h.db,
    file: h.file,
    step(i) {
      const done = `step_${i % 22}`;
      steps[done] = { output: {} };
      inTransaction(h.db, () => {
        const entries = [
          { type: "step_finished" as const, payload: { step: done, attempt: 1, output: {} } },
          { type: "step_started" as const, payload: { step: `step_${(i + 1) % 22}`, attempt: 1 } },
        ];
        seq = h.ledger.appendInTransaction([{ runId, expectedSeq: seq, entries }])[0]!.head.seq + 1;
        update.run(`step_${(i + 1) % 22}`, Date.now(), seq, Date.now(), JSON.stringify({ steps }), runId);
      });
    },
  };
}

/** Microseconds per step over `n` steps; closes the store. */
function stepMicros(s: StepStore, n: number): number {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) s.step(i);
  const us = ((performance.now() - t0) * 1000) / n;
  s.db.close();
  return us;
}

/** WAL frames (pages) one step's commit writes, counted over `n` steps with automatic checkpoints off; closes the store. */
function framesPerStep(s: StepStore, n: number): number {
  s.db.exec("PRAGMA wal_autocheckpoint = 0");
  const frameBytes = (s.db.prepare("PRAGMA page_size").get() as { page_size: number }).page_size + 24;
  const before = statSync(`${s.file}-wal`).size;
  for (let i = 0; i < n; i++) s.step(i);
  const frames = (statSync(`${s.file}-wal`).size - before) / frameBytes / n;
  s.db.close();
  return frames;
}

// -------------------------------------------------------------------------------------------
// The embedded engine, durable, no-op activities.
// -------------------------------------------------------------------------------------------
interface Harness {
  readonly engine: EmbeddedEngine;
  readonly db: DatabaseSync;
  readonly file: string;
  readonly ledger: TransactionalLedger;
  ended(runId: string): Promise<void>;
  /** Milliseconds spent inside the ledger's appendInTransaction so far. */
  ledgerMs(): number;
}

/** An engine whose ledger tells when a run reaches a final status (no polling in the measured loop). */
function harness(sync: Sync, def: WorkflowDefinition, concurrency: number, dir = tempDir()): Harness {
  const file = path.join(dir, "orchestrator.db");
  const db = openSqlite(file, { synchronous: sync });
  const inner = sqliteLedger({ db, file });
  const waiters = new Map<string, () => void>();
  const finished = new Set<string>();
  let ledgerMs = 0;
  const ledger: TransactionalLedger = {
    ...inner,
    appendInTransaction(requests) {
      const t0 = performance.now();
      const out = inner.appendInTransaction(requests);
      ledgerMs += performance.now() - t0;
      for (const r of requests)
        for (const e of r.entries)
          if (e.type === "status_changed" && ["succeeded", "failed"].includes((e.payload as { to: string }).to)) {
            finished.add(r.runId);
            waiters.get(r.runId)?.();
          }
      return out;
    },
  };
  const activities = new ActivityRegistry();
  for (const name of ActivityName.options) activities.register(name, async () => ({}));
  const engine = new EmbeddedEngine({
    db,
    ledger,
    activities,
    catalog: new WorkflowCatalog([def]),
    workerId: "bench",
    concurrency,
    perRepoConcurrency: concurrency,
    leaseMs: 60_000,
    pollIntervalMs: 60_000,
    policyVersion: "bench",
  });
  return {
    engine,
    db,
    file,
    ledger,
    ended: (runId) => (finished.has(runId) ? Promise.resolve() : new Promise<void>((resolve) => waiters.set(runId, resolve))),
    ledgerMs: () => ledgerMs,
  };
}

/** Time for `runs` runs of `def`, one after the other (start → last step committed). */
async function sequentialMs(sync: Sync, def: WorkflowDefinition, runs: number, stateBytes: number): Promise<number> {
  const h = harness(sync, def, 1);
  h.engine.startWorker();
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) {
    const { runId } = await h.engine.start(runRequest(stateBytes));
    await h.ended(runId);
  }
  const ms = performance.now() - t0;
  await h.engine.stop();
  h.db.close();
  return ms;
}

/** Marginal cost of one more step: (runs of 22 steps − runs of 2 steps) / 20 steps per run. */
async function perStepMicros(sync: Sync, stateBytes: number): Promise<{ perStep: number; perRun6: number }> {
  const runs = sync === "FULL" ? STEADY_RUNS : 60;
  const long = await sequentialMs(sync, stepsDefinition(22), runs, stateBytes);
  const short = await sequentialMs(sync, stepsDefinition(2), runs, stateBytes);
  const six = await sequentialMs(sync, stepsDefinition(6), runs, stateBytes);
  return { perStep: ((long - short) * 1000) / (runs * 20), perRun6: (six * 1000) / runs };
}

/** Many runs at once: group commit shares one fsync among all transitions of a pass. */
async function underLoad(sync: Sync, runs: number, steps: number, concurrency: number, stateBytes: number): Promise<{ perSecond: number; ledgerShare: number }> {
  const h = harness(sync, stepsDefinition(steps), concurrency);
  const ids: string[] = [];
  for (let i = 0; i < runs; i++) ids.push((await h.engine.start(runRequest(stateBytes, `acme/repo-${i % 50}`))).runId);
  const before = h.ledgerMs();
  const t0 = performance.now();
  h.engine.startWorker();
  await Promise.all(ids.map((id) => h.ended(id)));
  const ms = performance.now() - t0;
  const ledgerShare = (h.ledgerMs() - before) / ms;
  await h.engine.stop();
  h.db.close();
  return { perSecond: (runs * steps * 1000) / ms, ledgerShare };
}

// -------------------------------------------------------------------------------------------
// The reference: aws-local-stepfunctions running the compiled ASL of the same workflow, in memory.
// -------------------------------------------------------------------------------------------
async function interpreterMicros(steps: number, runs: number, stateBytes: number, parallel: number): Promise<number> {
  const def = stepsDefinition(steps);
  const asl = compileToAsl(def, placeholderTargets);
  const machine = new StateMachine(asl as never, { validationOptions: { checkArn: true, checkPaths: true } });
  const handlers = Object.fromEntries(def.steps.map((s) => [s.id, async () => ({ Payload: {}, StatusCode: 200 })]));
  const one = async () => {
    const input = initialState("run_01JF3Q0Z8X9K2M4N6P8R0T2V4W", runRequest(stateBytes), def);
    const ex = machine.run(input as never, {
      overrides: { taskResourceLocalHandlers: handlers },
      context: { Execution: { Name: "run_01JF3Q0Z8X9K2M4N6P8R0T2V4W", Input: {}, StartTime: new Date().toISOString() }, State: { RetryCount: 0 }, Task: { Token: "t" } },
    });
    await ex.result;
  };
  const t0 = performance.now();
  for (let i = 0; i < runs; i += parallel) await Promise.all(Array.from({ length: Math.min(parallel, runs - i) }, one));
  return ((performance.now() - t0) * 1000) / (runs * steps);
}

// -------------------------------------------------------------------------------------------
// Parked runs: rows only. RSS and resume time measured in fresh processes.
// -------------------------------------------------------------------------------------------
async function parkRuns(n: number): Promise<{ file: string }> {
  const dir = tempDir();
  const h = harness("NORMAL", parkDefinition, 256, dir);
  h.engine.startWorker();
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push((await h.engine.start(runRequest(2_000, `acme/repo-${i % 50}`, "impl_change"))).runId);
  const parked = h.db.prepare("SELECT count(*) AS n FROM engine_runs WHERE phase = 'parked'");
  while ((parked.get() as { n: number }).n < n) await new Promise((r) => setTimeout(r, 20));
  await h.engine.stop();
  h.db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  h.db.close();
  return { file: path.join(dir, "orchestrator.db") };
}

async function bundleResumeChild(): Promise<string> {
  const out = path.join(tempDir(), "engine-resume.mjs");
  await build({ entryPoints: [path.join(import.meta.dirname, "engine-resume.ts")], bundle: true, platform: "node", format: "esm", target: "node22", outfile: out, logLevel: "silent" });
  return out;
}

interface ResumeFigures {
  rssMiB: number;
  openedMs: number;
  resumeMs: number;
  fromStartMs: number;
  warmResumeMs: number;
}

function resumeInChild(bundle: string, file: string, ids: [string, string]): ResumeFigures {
  return JSON.parse(execFileSync(process.execPath, ["--expose-gc", bundle, file, ...ids], { encoding: "utf8" })) as ResumeFigures;
}

/** RSS of a Node process that has loaded `imports` (none: bare Node) and collected garbage. */
function nodeRss(imports = ""): number {
  const code = `${imports} globalThis.gc(); process.stdout.write(String(process.memoryUsage.rss() / 2 ** 20));`;
  const out = execFileSync(process.execPath, ["--expose-gc", "--input-type=module", "-e", code], { encoding: "utf8", cwd: path.resolve(import.meta.dirname, "..") });
  return Number(out);
}

// -------------------------------------------------------------------------------------------

/**
 * One round: the floor, the storage of a step and the engine one right after the other, so disk
 * noise hits all alike. Enough commits each that the WAL has filled and started over: a fresh
 * WAL file grows with every commit, and a flush that extends a file costs about twice one that
 * overwrites it on this disk, which a long-running store pays only at its start.
 */
async function sequentialRound(sync: Sync) {
  const n = sync === "FULL" ? STEADY_COMMITS : 3_000;
  const floor = stepMicros(floorStore(sync, 900), n);
  const storage = stepMicros(await storageStore(sync), n);
  const { perStep, perRun6 } = await perStepMicros(sync, 900);
  return { floor, storage, perStep, perRun6, ratio: perStep / floor };
}
const seqFull = await rounds(ROUNDS, () => sequentialRound("FULL"));
const seqNormal = await rounds(ROUNDS, () => sequentialRound("NORMAL"));
const floorFull = median(seqFull.map((r) => r.floor));
const storageFull = median(seqFull.map((r) => r.storage));
const storageRatio = median(seqFull.map((r) => r.storage / r.floor));
// What each commit writes, counted once (frames do not depend on the sync setting).
const framesFloor = framesPerStep(floorStore("NORMAL", 900), 2_000);
const framesStorage = framesPerStep(await storageStore("NORMAL"), 2_000);
const floorNormal = median(seqNormal.map((r) => r.floor));
const stepFull = median(seqFull.map((r) => r.perStep));
const stepNormal = median(seqNormal.map((r) => r.perStep));
const ratioFull = median(seqFull.map((r) => r.ratio));
const ratioNormal = median(seqNormal.map((r) => r.ratio));
const run6Full = median(seqFull.map((r) => r.perRun6));
const loadRounds = await rounds(ROUNDS, () => underLoad("FULL", 1_000, 10, 256, 900));
const loadFull = median(loadRounds.map((r) => r.perSecond));
const ledgerShare = median(loadRounds.map((r) => r.ledgerShare));
const loadFullBig = median((await rounds(ROUNDS, () => underLoad("FULL", 400, 10, 256, 12_700))).map((r) => r.perSecond));
const interpSeq = median(await rounds(ROUNDS, () => interpreterMicros(22, 200, 900, 1)));
const interpBig = median(await rounds(ROUNDS, () => interpreterMicros(10, 200, 12_700, 64)));
process.stderr.write(`floor ${floorFull}/${floorNormal} storage ${storageFull} step ${stepFull}/${stepNormal} ratio ${ratioFull}/${ratioNormal} load ${loadFull}/${loadFullBig} interp ${interpSeq}/${interpBig}\n`);
const bundle = await bundleResumeChild();
const bare = median(await rounds(ROUNDS, () => nodeRss()));
// zod classic, which most schemas in the code base are written with; the engine's own (ledger, workflows) use zod/mini.
const withZod = median(await rounds(ROUNDS, () => nodeRss('import { z } from "zod"; z.object({ a: z.string() }).parse({ a: "x" });')));
const one = await parkRuns(2 * ROUNDS);
const small = await parkRuns(1_000);
const large = await parkRuns(10_000);
/** Resumes a different parked run of the store in each round, each in a fresh process. */
function resumeRounds(file: string): ResumeFigures[] {
  const db = openSqlite(file, { synchronous: "NORMAL" });
  const ids = (db.prepare(`SELECT run_id FROM engine_runs WHERE phase = 'parked' ORDER BY random() LIMIT ${2 * ROUNDS}`).all() as { run_id: string }[]).map((r) => r.run_id);
  db.close();
  return Array.from({ length: ROUNDS }, (_, i) => resumeInChild(bundle, file, [ids[2 * i]!, ids[2 * i + 1]!]));
}
const resumeOne = resumeRounds(one.file);
const resumeSmall = resumeRounds(small.file);
const resumeLarge = resumeRounds(large.file);
const m = (xs: ResumeFigures[], k: keyof ResumeFigures) => median(xs.map((x) => x[k]));
for (const d of dirs) rmSync(d, { recursive: true, force: true });

const perStepRatio = ratioFull;
const row = (label: string, xs: ResumeFigures[]) => [
  label,
  `${fmt(m(xs, "rssMiB"), 1)} MiB`,
  `+${fmt(m(xs, "rssMiB") - bare, 1)} MiB`,
  `${fmt(m(xs, "warmResumeMs"), 2)} ms`,
  `${fmt(m(xs, "resumeMs"), 2)} ms`,
  `${fmt(m(xs, "fromStartMs"), 1)} ms`,
];
const loadVsInterp = loadFullBig / (1e6 / interpBig);
const rssOver = m(resumeLarge, "rssMiB") - bare;
const out = [
  "## Workflow engine",
  "",
  "Embedded engine, durable (SQLite WAL on the shared store, the real hash-chained ledger), no-op activities; each step commits its transition and ledger entries (step_finished + the next step_started) in one transaction, and the worker keeps the run's lease into the next step. " +
    "A run's request (the `run` part of its state: a webhook's worth of JSON in the 12.7 KB case) is written once at the start; a step serialises and rewrites only what steps change. " +
    "Per-step overhead is the marginal cost of a step: (runs of 22 steps − runs of 2 steps) ÷ 20, one run at a time. The floor is a bare step transition (update a run row + append one hashed entry, one commit) in the same run. " +
    "The storage of a step is what a step writes, through the real ledger, with no engine code around it: its two entries and the run's row, one commit. " +
    `At FULL each of the three is measured over about ${fmt(STEADY_COMMITS)} commits, so that the WAL has filled and started over, as in a long-running store (a flush that extends the WAL file costs more than one that overwrites it). ` +
    `The reference is aws-local-stepfunctions 3 running the compiled ASL of the same workflow in memory (not durable). Median of ${ROUNDS} rounds.`,
  "",
  table(
    ["what", "figure", "reference", "ratio"],
    [
      ["step transition floor, FULL / NORMAL", `${fmt(floorFull)} / ${fmt(floorNormal)} µs`, "BENCHMARKS.md: 275 / 60 µs", "—"],
      ["storage of one step, no engine code, FULL", `${fmt(storageFull)} µs`, `floor ${fmt(floorFull)} µs`, `${fmt(storageRatio, 2)}×`],
      ["embedded engine, per step, FULL (one run at a time)", `${fmt(stepFull)} µs`, `floor ${fmt(floorFull)} µs`, `${fmt(perStepRatio, 2)}×`],
      ["embedded engine, per step, NORMAL (one run at a time)", `${fmt(stepNormal)} µs`, `floor ${fmt(floorNormal)} µs`, `${fmt(ratioNormal, 2)}×`],
      ["embedded engine, whole 6-step run incl. start, FULL", `${fmt(run6Full / 1000, 2)} ms`, `7 × floor = ${fmt((7 * floorFull) / 1000, 2)} ms`, `${fmt(run6Full / (7 * floorFull), 2)}×`],
      ["aws-local-stepfunctions, per state, tiny state (one run at a time)", `${fmt(interpSeq, 1)} µs`, `embedded FULL ${fmt(stepFull)} µs`, `embedded ${fmt(stepFull / interpSeq, 1)}× slower (it persists nothing)`],
      ["embedded under load, FULL, 1,000 runs × 10 steps, 256 at once", `${fmt(loadFull)} steps/s`, "target ≥ 20,000 steps/s", `${fmt(loadFull / 20_000, 2)}×`],
      ["embedded under load, FULL, 12.7 KB state, 400 runs × 10 steps", `${fmt(loadFullBig)} steps/s (${fmt(1e6 / loadFullBig, 1)} µs/step)`, `aws-local, 12.7 KB state, 64 at once: ${fmt(interpBig, 1)} µs/state`, `${fmt(loadVsInterp, 2)}× its speed`],
    ],
  ),
  "",
  `Under load, ${fmt(ledgerShare * 100)} % of the wall time is spent inside the ledger's append (validating, canonicalizing and hashing the two entries of each step, and writing them); the engine's own work (claims, fencing, row updates, scheduling) is the rest. ` +
    `One run at a time, a step's commit writes the engine's run row, the ledger's run head and two entries with their index (${fmt(framesStorage, 1)} WAL pages a commit, counted over 2,000 commits) where the floor writes one row and one entry (${fmt(framesFloor, 1)}), in five statements (the head read, two entry inserts, the head update and the run row's update, fenced on its lease) where the floor runs two, and seals two entries where the floor seals one. ` +
    `At FULL that storage alone costs ${fmt(storageRatio, 2)}× the floor, and the engine's own code (taking the result, the transition, scheduling and calling the next activity) adds ${fmt(stepFull - storageFull)} µs a step. ` +
    `Without fsync (NORMAL) a step costs ${fmt(stepNormal - floorNormal)} µs more than the floor.`,
  "",
  "10,000 parked runs (awaiting approval, ~2 KB state each): each round is a fresh process (bundled with esbuild, plain `node`, FULL) that opens the store and starts the engine, then approves two parked runs one after the other; a run is resumed when its next step has started (the decision and the claim of that step are one durable commit).",
  "",
  table(
    ["parked runs", "RSS after open", "over bare Node", "resume, store open (2nd)", "first resume after start", "resumed, from process start"],
    [
      row(fmt(2 * ROUNDS), resumeOne),
      row("1,000", resumeSmall),
      row("10,000", resumeLarge),
    ],
  ),
  "",
  `Bare Node: ${fmt(bare, 1)} MiB RSS; Node with zod classic loaded: ${fmt(withZod, 1)} MiB (+${fmt(withZod - bare, 1)} MiB). ` +
    "The engine process does not load zod classic: the ledger and workflow schemas are written with zod/mini, the schemas only used as types are not built, the entry payload schemas are built at the first append, and the engine takes a run request as typed data (validated where it is made). " +
    "It loads the benchmark's one workflow definition, not the five built-in ones (those are loaded by `builtinCatalog()`, as the server does). " +
    `With 10,000 parked runs its RSS differs by ${fmt(Math.abs(m(resumeLarge, "rssMiB") - m(resumeOne, "rssMiB")), 1)} MiB from the same process with ${2 * ROUNDS} parked runs: parked runs cost rows, not memory.`,
  "",
  `Targets (BENCHMARKS.md): per step ≤ 1.2× the floor — ${fmt(perStepRatio, 2)}× at FULL: ${perStepRatio <= 1.2 ? "met" : "not met"}; ` +
    `under load ≥ 20k steps/s — ${fmt(loadFull)}: ${loadFull >= 20_000 ? "met" : "not met"}; ` +
    `no slower per step than the interpreter on a webhook-sized state — ${fmt(loadVsInterp, 2)}×: ${loadVsInterp >= 1 ? "met" : "not met"}; ` +
    `10k parked RSS ≤ bare Node + 10 MiB — +${fmt(rssOver, 1)} MiB: ${rssOver <= 10 ? "met" : "not met"}, ${Math.abs(m(resumeLarge, "rssMiB") - m(resumeSmall, "rssMiB")) <= 2 ? "flat from 1k to 10k" : "not flat"}; ` +
    `resume ≤ 5 ms with the store open — ${fmt(m(resumeLarge, "warmResumeMs"), 2)} ms: ${m(resumeLarge, "warmResumeMs") <= 5 ? "met" : "not met"}; ` +
    `≤ 100 ms from process start — ${fmt(m(resumeLarge, "fromStartMs"), 1)} ms: ${m(resumeLarge, "fromStartMs") <= 100 ? "met" : "not met"}.`,
];
process.stdout.write(`${out.join("\n")}\n`);
