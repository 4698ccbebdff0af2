import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { normalize } from "../../../src/events/index.js";
import type { Event } from "../../../src/events/schema.js";
import { DeliveryQueue, type DeliveryRecord } from "../../../src/orchestrator/intake/delivery-queue.js";
import { DeliveryWorker } from "../../../src/orchestrator/intake/worker.js";
import { openSqlite, type DatabaseSync } from "../../../src/store/sqlite.js";
import { fixtures } from "../../helpers/fixtures.js";

const silent = { info() {}, warn() {}, error() {} };

function event(id: string): Event {
  const f = fixtures("gitlab").find((x) => x.file === "issue.open.json")!;
  const r = normalize("gitlab", "Issue Hook", JSON.parse(f.body), { deliveryId: id, receivedAt: new Date(), rawSha256: "0".repeat(64) });
  if (r.status !== "event") throw new Error("fixture did not normalise");
  return r.event;
}

const record = (id: string, ignored = false): DeliveryRecord => ({
  source: "gitlab",
  deliveryId: id,
  eventName: "Issue Hook",
  receivedAt: new Date(),
  rawSha256: "0".repeat(64),
  event: ignored ? null : event(id),
  ignoredReason: ignored ? "not acted on" : null,
});

/** How many transactions the connection has begun since this call. */
function countBegins(db: DatabaseSync): () => number {
  const exec = db.exec.bind(db);
  let begins = 0;
  db.exec = (sql: string) => {
    if (sql.startsWith("BEGIN")) begins++;
    return exec(sql);
  };
  return () => begins;
}

describe("delivery queue", () => {
  let dir: string;
  let file: string;
  let db: DatabaseSync;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "intake-queue-"));
    file = path.join(dir, "orchestrator.db");
    db = openSqlite(file, { synchronous: "FULL" });
  });
  afterEach(() => {
    if (db.isOpen) db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("records a delivery once: sequential and 20 concurrent duplicates", async () => {
    const q = new DeliveryQueue(db);
    expect(await q.record(record("a"))).toBe("queued");
    expect(await q.record(record("a"))).toBe("duplicate");
    const results = await Promise.all(Array.from({ length: 20 }, () => q.record(record("b"))));
    expect(results.filter((r) => r === "queued")).toHaveLength(1);
    expect(results.filter((r) => r === "duplicate")).toHaveLength(19);
    expect(q.counts()).toEqual({ queued: 2 });
  });

  it("remembers deliveries across a restart", async () => {
    await new DeliveryQueue(db).record(record("a"));
    db.close();
    db = openSqlite(file, { synchronous: "FULL" });
    expect(await new DeliveryQueue(db).record(record("a"))).toBe("duplicate");
  });

  it("commits concurrent deliveries in one transaction (group commit)", async () => {
    const q = new DeliveryQueue(db);
    const begins = countBegins(db);
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => q.record(record(`d${i}`))));
    expect(results.every((r) => r === "queued")).toBe(true);
    expect(begins()).toBe(1);
  });

  it("makes no commit while an fsync runs: everything that arrives meanwhile shares the next one", async () => {
    // Each fdatasync waits until the test lets it finish.
    const held: (() => void)[] = [];
    const q = new DeliveryQueue(db, { maxAttempts: 5, leaseMs: 60_000, backoffMs: 100, datasync: () => new Promise<void>((r) => held.push(r)) });
    const begins = countBegins(db);
    const first = q.record(record("first"));
    // The first commit runs in the next turn, then its fdatasync.
    await new Promise((r) => setImmediate(r));
    expect([begins(), held.length]).toEqual([1, 1]);
    const later = Array.from({ length: 5 }, (_, i) => q.record(record(`later${i}`)));
    await new Promise((r) => setImmediate(r));
    expect(begins()).toBe(1);
    held.shift()!();
    expect(await first).toBe("queued");
    // The first fsync's end made the next commit, for all five, with one fsync of its own.
    expect([begins(), held.length]).toEqual([2, 1]);
    held.shift()!();
    expect(await Promise.all(later)).toEqual(Array(5).fill("queued"));
    expect(begins()).toBe(2);
  });

  it("answers every write when the connection closes under it: committed ones resolve, the rest reject", async () => {
    const q = new DeliveryQueue(db);
    const first = q.record(record("first"));
    await new Promise((r) => setImmediate(r));
    const second = q.record(record("second"));
    db.close();
    expect(await first).toBe("queued");
    await expect(second).rejects.toThrow(/database is closed/);
    await q.close();
  });

  it("keeps ignored deliveries for dedupe but never hands them to a worker", async () => {
    const q = new DeliveryQueue(db);
    expect(await q.record(record("i", true))).toBe("ignored");
    expect(await q.record(record("i", true))).toBe("duplicate");
    expect(await q.claim("w", 10)).toEqual([]);
    expect(q.get("gitlab", "i")).toMatchObject({ status: "ignored", outcome: "not acted on" });
  });

  it("leases a claim: no one else gets it until the lease lapses", async () => {
    const q = new DeliveryQueue(db, { maxAttempts: 3, leaseMs: 1000, backoffMs: 100 });
    await q.record(record("a"));
    const now = Date.now();
    expect((await q.claim("w1", 10, now)).map((c) => c.deliveryId)).toEqual(["a"]);
    expect(await q.claim("w2", 10, now + 999)).toEqual([]);
    const again = await q.claim("w2", 10, now + 1000);
    expect(again).toMatchObject([{ deliveryId: "a", attempts: 2 }]);
    // The first worker's late completion does not overwrite the new holder's work.
    await q.complete({ ...again[0]! }, "w1", "late");
    expect(q.get("gitlab", "a")?.status).toBe("queued");
    await q.complete(again[0]!, "w2", "done by w2");
    expect(q.get("gitlab", "a")).toMatchObject({ status: "done", outcome: "done by w2" });
  });

  it("backs off exponentially, then parks a delivery as failed with the last error", async () => {
    const q = new DeliveryQueue(db, { maxAttempts: 3, leaseMs: 60_000, backoffMs: 100 });
    await q.record(record("a"));
    let now = Date.now();
    let [c] = await q.claim("w", 1, now);
    expect(await q.failed(c!, "w", "boom 1", now)).toBe("retrying");
    expect(await q.claim("w", 1, now + 99)).toEqual([]);
    [c] = await q.claim("w", 1, (now += 100));
    expect(await q.failed(c!, "w", "boom 2", now)).toBe("retrying");
    expect(await q.claim("w", 1, now + 199)).toEqual([]);
    [c] = await q.claim("w", 1, (now += 200));
    expect(await q.failed(c!, "w", "boom 3", now)).toBe("failed");
    expect(q.get("gitlab", "a")).toMatchObject({ status: "failed", attempts: 3, last_error: "boom 3" });
    expect(await q.claim("w", 1, now + 10_000_000)).toEqual([]);
  });

  it("works the queue in the background, retrying a failing event", async () => {
    const q = new DeliveryQueue(db, { maxAttempts: 5, leaseMs: 60_000, backoffMs: 10 });
    let calls = 0;
    const w = new DeliveryWorker(
      q,
      async (e) => {
        calls++;
        if (calls === 1) throw new Error("forge unavailable");
        return `handled ${e.id}`;
      },
      { concurrency: 2, pollMs: 50, log: silent },
    );
    w.start();
    await q.record(record("a"));
    for (let i = 0; i < 100 && q.get("gitlab", "a")?.status !== "done"; i++) await new Promise((r) => setTimeout(r, 20));
    expect(q.get("gitlab", "a")).toMatchObject({ status: "done", attempts: 2, outcome: "handled gitlab:a", last_error: "forge unavailable" });
    await w.stop();
  });

  it("resolves idle() once every due delivery is processed", async () => {
    const q = new DeliveryQueue(db);
    const seen: string[] = [];
    const w = new DeliveryWorker(q, async (e) => (seen.push(e.delivery_id), "ok"), { concurrency: 3, pollMs: 50, log: silent });
    await Promise.all(["a", "b", "c", "d", "e"].map((id) => q.record(record(id))));
    w.start();
    await w.idle();
    expect(seen.sort()).toEqual(["a", "b", "c", "d", "e"]);
    expect(q.counts()).toEqual({ done: 5 });
    await w.stop();
  });
});
