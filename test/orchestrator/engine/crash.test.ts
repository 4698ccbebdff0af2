// Crash tests: the engine runs in a child process that is killed with SIGKILL at random points and restarted.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { sqliteLedger } from "../../../src/orchestrator/ledger/sqlite.js";
import { openSqlite } from "../../../src/store/sqlite.js";
import { ledgerTrace } from "./harness.js";

const fixture = path.join(import.meta.dirname, "fixtures", "crash-worker.ts");
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

interface Child {
  readonly ready: Promise<void>;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
  kill(): void;
}

function startWorker(dir: string, workerId: string, leaseMs: number): Child {
  const child = spawn(process.execPath, ["--import", "tsx", fixture, dir, workerId, String(leaseMs)], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (d: Buffer) => d.toString().includes("ready") && resolve());
    child.on("exit", () => reject(new Error(`worker exited before ready: ${stderr}`)));
  });
  ready.catch(() => undefined);
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal, stderr })),
  );
  return { ready, exit, kill: () => child.kill("SIGKILL") };
}

interface Outcome {
  readonly status: string;
  readonly trace: string[];
  readonly effects: Record<string, number>;
}

/** Per scenario (idempotency key): final status, ledger step trace, and how often each side effect happened. */
async function outcomes(dir: string): Promise<{ runs: Record<string, Outcome>; calls: number; verified: boolean }> {
  const file = path.join(dir, "orchestrator.db");
  const db = openSqlite(file, { synchronous: "NORMAL" });
  const forge = openSqlite(path.join(dir, "forge.db"), { synchronous: "NORMAL" });
  try {
    const ledger = sqliteLedger({ db, file });
    const runs: Record<string, Outcome> = {};
    for (const r of db.prepare("SELECT run_id, idempotency_key, status FROM engine_runs ORDER BY idempotency_key").all() as { run_id: string; idempotency_key: string; status: string }[]) {
      const effects: Record<string, number> = {};
      for (const e of forge.prepare("SELECT step, count(*) AS n FROM effects WHERE run_id = ? GROUP BY step ORDER BY step").all(r.run_id) as { step: string; n: number }[])
        effects[e.step] = e.n;
      runs[r.idempotency_key] = { status: r.status, trace: ledgerTrace(await ledger.entries(r.run_id)), effects };
    }
    const calls = (forge.prepare("SELECT count(*) AS n FROM calls").get() as { n: number }).n;
    return { runs, calls, verified: (await ledger.verify()).ok };
  } finally {
    db.close();
    forge.close();
  }
}

function tempDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), "engine-crash-"));
  dirs.push(d);
  return d;
}

describe("embedded engine: crash and restart", () => {
  it("every run ends as it would without crashes, and every side effect happens exactly once", async () => {
    const reference = tempDir();
    const clean = startWorker(reference, "worker-a", 1_000);
    expect(await clean.exit).toMatchObject({ code: 0 });
    const expected = await outcomes(reference);
    expect(Object.keys(expected.runs)).toHaveLength(14);

    const crashed = tempDir();
    const trials = 8;
    let killed = 0;
    for (let i = 0; i < trials; i++) {
      // Odd trials come back under another worker id: the dead worker's leases must expire first.
      const w = startWorker(crashed, i % 2 ? "worker-b" : "worker-a", 300);
      await w.ready;
      await new Promise((r) => setTimeout(r, 50 + Math.random() * 450));
      w.kill();
      const { signal } = await w.exit;
      if (signal === "SIGKILL") killed++;
    }
    const last = startWorker(crashed, "worker-c", 300);
    const end = await last.exit;
    expect(end.code, end.stderr).toBe(0);
    expect(killed).toBeGreaterThan(0);

    const got = await outcomes(crashed);
    expect(got.verified).toBe(true);
    expect(expected.verified).toBe(true);
    for (const [key, want] of Object.entries(expected.runs)) {
      const run = got.runs[key]!;
      expect(run.status, key).toBe(want.status);
      expect(run.trace, key).toEqual(want.trace);
      expect(run.effects, key).toEqual(want.effects);
      for (const n of Object.values(run.effects)) expect(n, key).toBe(1);
    }
    // Crashes made activities run again (the same attempt key), yet effects did not repeat.
    expect(got.calls).toBeGreaterThanOrEqual(expected.calls);
  }, 180_000);
});
