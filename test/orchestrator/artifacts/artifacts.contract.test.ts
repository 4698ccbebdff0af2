// One contract for every ArtifactStore adapter: content addressing, idempotent streaming puts, verified reads.
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fileArtifactStore } from "../../../src/orchestrator/artifacts/files.js";
import { ArtifactCorruptError, ArtifactNotFoundError, type ArtifactStore } from "../../../src/orchestrator/artifacts/port.js";
import { s3ArtifactStore } from "../../../src/orchestrator/artifacts/s3.js";
import { startS3rver } from "../../helpers/aws-local.js";

interface Backend {
  store: ArtifactStore;
  /** Overwrites the stored object's bytes directly, as disk rot or an attacker would. */
  corrupt(sha256: string, bytes: Buffer): Promise<void>;
  close(): Promise<void>;
}

async function files(): Promise<Backend> {
  const dir = mkdtempSync(path.join(tmpdir(), "artifacts-"));
  return {
    store: fileArtifactStore(dir),
    async corrupt(sha256, bytes) {
      const file = path.join(dir, "sha256", sha256);
      chmodSync(file, 0o644);
      writeFileSync(file, bytes);
    },
    async close() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function s3(): Promise<Backend> {
  const local = await startS3rver(["artifacts-test"]);
  return {
    store: s3ArtifactStore({ client: local.client, bucket: "artifacts-test", partSize: 5 * 1024 * 1024 }),
    async corrupt(sha256, bytes) {
      await local.client.send(new PutObjectCommand({ Bucket: "artifacts-test", Key: `sha256/${sha256}`, Body: bytes }));
    },
    close: () => local.close(),
  };
}

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

describe.each([
  ["files", files],
  ["s3 (s3rver)", s3],
])("ArtifactStore contract: %s", (_name, make) => {
  let b: Backend;
  beforeAll(async () => {
    b = await make();
  });
  afterAll(async () => b?.close());

  it("stores bytes under their sha256 and reads them back verified", async () => {
    const bytes = Buffer.from("# Plan\n\n1. add retry\n");
    const stored = await b.store.put(bytes, { name: "plan.md", media_type: "text/markdown", run_id: "run_01JF3Q0Z8X9K2M4N6P8R0T2V4W", producer_step: "plan" });
    expect(stored).toEqual({
      sha256: sha(bytes),
      size: bytes.length,
      key: `sha256/${sha(bytes)}`,
      name: "plan.md",
      media_type: "text/markdown",
      run_id: "run_01JF3Q0Z8X9K2M4N6P8R0T2V4W",
      producer_step: "plan",
    });
    expect(await b.store.read(stored.sha256)).toEqual(bytes);
    expect(await b.store.stat(stored.sha256)).toEqual({
      sha256: stored.sha256,
      size: bytes.length,
      meta: [{ name: "plan.md", media_type: "text/markdown", run_id: "run_01JF3Q0Z8X9K2M4N6P8R0T2V4W", producer_step: "plan" }],
    });
  });

  it("streams a multi-part body in and is idempotent, keeping each distinct metadata record", async () => {
    const bytes = randomBytes(7 * 1024 * 1024 + 123);
    const chunks = function* () {
      for (let i = 0; i < bytes.length; i += 64 * 1024) yield bytes.subarray(i, i + 64 * 1024);
    };
    const a = await b.store.put(Readable.from(chunks()), { name: "build.log" });
    const again = await b.store.put(bytes, { name: "build.log" });
    const renamed = await b.store.put(bytes, { name: "verify.log", media_type: "text/plain" });
    expect(a.sha256).toBe(sha(bytes));
    expect([again.sha256, renamed.sha256]).toEqual([a.sha256, a.sha256]);
    const info = await b.store.stat(a.sha256);
    expect(info!.size).toBe(bytes.length);
    expect(info!.meta.map((m) => m.name).sort()).toEqual(["build.log", "verify.log"]);
    const streamed: Buffer[] = [];
    for await (const c of await b.store.stream(a.sha256)) streamed.push(c as Buffer);
    expect(sha(Buffer.concat(streamed))).toBe(a.sha256);
  });

  it("puts a file by path, in blocks", async () => {
    const bytes = randomBytes(2 * 1024 * 1024 + 17);
    const file = path.join(mkdtempSync(path.join(tmpdir(), "artifact-src-")), "agent-output.tar");
    writeFileSync(file, bytes);
    const stored = await b.store.put({ path: file }, { name: "agent-output.tar", media_type: "application/x-tar" });
    expect(stored).toMatchObject({ sha256: sha(bytes), size: bytes.length });
    expect(sha(await b.store.read(stored.sha256))).toBe(sha(bytes));
    rmSync(path.dirname(file), { recursive: true, force: true });
  });

  it("refuses to serve a corrupted object", async () => {
    const bytes = Buffer.from("gate output: all 42 tests passed\n");
    const { sha256 } = await b.store.put(bytes, { name: "gate.txt" });
    await b.corrupt(sha256, Buffer.from("gate output: all 42 tests FAILED\n"));
    await expect(b.store.read(sha256)).rejects.toBeInstanceOf(ArtifactCorruptError);
    await expect(b.store.read(sha256)).rejects.toThrow(new RegExp(`sha256/${sha256} is corrupt`));
    const stream = await b.store.stream(sha256);
    await expect(async () => {
      for await (const _ of stream) void _;
    }).rejects.toBeInstanceOf(ArtifactCorruptError);
    // Putting the true bytes again repairs it.
    await b.store.put(bytes, { name: "gate.txt" });
    expect(await b.store.read(sha256)).toEqual(bytes);
  });

  it("answers unknown and malformed ids clearly", async () => {
    const missing = "0".repeat(64);
    expect(await b.store.stat(missing)).toBeUndefined();
    await expect(b.store.read(missing)).rejects.toBeInstanceOf(ArtifactNotFoundError);
    await expect(b.store.read("not-a-sha")).rejects.toThrow(/64 lowercase hex/);
    await expect(b.store.put(Buffer.from("x"), { name: "" })).rejects.toThrow(/name/);
    await expect(b.store.ready()).resolves.toBeUndefined();
  });

  it("leaves nothing behind when the body stream fails", async () => {
    const failing = Readable.from(
      (async function* () {
        yield Buffer.from("partial");
        throw new Error("agent workspace vanished");
      })(),
    );
    await expect(b.store.put(failing, { name: "broken" })).rejects.toThrow(/workspace vanished/);
    expect(await b.store.stat(sha(Buffer.from("partial")))).toBeUndefined();
  });
});
