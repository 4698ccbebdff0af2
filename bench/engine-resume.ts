// Child process of bench/engine.bench.ts: opens a store with parked runs, reports RSS, resumes one run and times it.
// Usage (bundled, plain node): node --expose-gc engine-resume.mjs <db file> <run id> <another run id>
import { performance } from "node:perf_hooks";
import { ActivityRegistry } from "../src/orchestrator/activities/registry.js";
import { EmbeddedEngine } from "../src/orchestrator/engine/embedded.js";
import { sqliteLedger } from "../src/orchestrator/ledger/sqlite.js";
import { WorkflowCatalog } from "../src/orchestrator/workflows/catalog.js";
import { ActivityName } from "../src/orchestrator/workflows/schema.js";
import { openSqlite } from "../src/store/sqlite.js";
import { parkDefinition } from "./engine-workflows.js";

const [file, firstId, secondId] = process.argv.slice(2) as [string, string, string];
const db = openSqlite(file, { synchronous: "FULL" });
const ledger = sqliteLedger({ db, file });
let started: (() => void) | undefined;
const activities = new ActivityRegistry();
for (const name of ActivityName.options) activities.register(name, async () => ({}));
// The step after the approval starting is the run resumed.
activities.register("report", async () => (started?.(), {}));
const engine = new EmbeddedEngine({
  db,
  ledger,
  activities,
  catalog: new WorkflowCatalog([parkDefinition]),
  workerId: "bench-resume",
  concurrency: 4,
  perRepoConcurrency: 4,
  leaseMs: 30_000,
  pollIntervalMs: 60_000,
  policyVersion: "bench",
});
engine.startWorker();
const openedMs = performance.now();
globalThis.gc?.();
const rssMiB = process.memoryUsage.rss() / 2 ** 20;

/** Approves a parked run and waits until its next step has started: the run is resumed. */
async function resume(runId: string): Promise<{ ms: number; at: number }> {
  const resumed = new Promise<void>((resolve) => (started = resolve));
  const t0 = performance.now();
  await engine.decide(runId, { decision: "approved", by: "bench", via: "api" });
  await resumed;
  const at = performance.now();
  while ((await engine.status(runId)) !== "succeeded") await new Promise((r) => setImmediate(r));
  return { ms: at - t0, at };
}
// The first resume after a restart pays for cold code and pages; the second is the steady state.
const { ms: resumeMs, at: fromStartMs } = await resume(firstId);
const { ms: warmResumeMs } = await resume(secondId);
await engine.stop();
db.close();
process.stdout.write(`${JSON.stringify({ rssMiB, openedMs, resumeMs, fromStartMs, warmResumeMs })}\n`);
