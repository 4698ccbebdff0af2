// What only the files store promises: large puts through its reused block ring stay exact, and a failed put leaves no temp file.
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { fileArtifactStore } from "../../../src/orchestrator/artifacts/files.js";
import type { ArtifactStore } from "../../../src/orchestrator/artifacts/port.js";

describe("files artifact store", () => {
  let dir: string;
  let store: ArtifactStore;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "artifacts-files-"));
    store = fileArtifactStore(dir);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("stores a body of many blocks exactly, even when the producer reuses its chunk buffer", async () => {
    // 37 MiB + 5 in odd-sized chunks: crosses block boundaries and the background flush interval.
    const source = randomBytes(37 * 1024 * 1024 + 5);
    const reused = Buffer.alloc(700_001);
    async function* chunks() {
      for (let off = 0; off < source.length; off += reused.length) {
        const n = source.copy(reused, 0, off, Math.min(off + reused.length, source.length));
        yield reused.subarray(0, n);
      }
    }
    const stored = await store.put(chunks(), { name: "workspace.tar" });
    const expected = createHash("sha256").update(source).digest("hex");
    expect(stored).toMatchObject({ sha256: expected, size: source.length });
    const back = await store.read(expected);
    expect(back.equals(source)).toBe(true);
  });

  it("removes the temp file when the body fails after several blocks", async () => {
    async function* failing() {
      for (let i = 0; i < 6; i++) yield randomBytes(1024 * 1024);
      throw new Error("agent workspace vanished");
    }
    await expect(store.put(failing(), { name: "broken.tar" })).rejects.toThrow(/workspace vanished/);
    expect(readdirSync(path.join(dir, "tmp"))).toEqual([]);
    expect(readdirSync(path.join(dir, "sha256"))).toEqual([]);
  });
});
