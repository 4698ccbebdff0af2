// The embedded artifact store: content-addressed files under DATA_DIR/artifacts, written durably and verified on read.
import { randomUUID } from "node:crypto";
import { closeSync, createReadStream, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { access, stat } from "node:fs/promises";
import canonicalize from "canonicalize";
import path from "node:path";
import type { Readable } from "node:stream";
import { BLOCK, HashingBlockWriter } from "./block-writer.js";
import { ArtifactNotFoundError, artifactKey, type ArtifactInfo, type ArtifactMeta, type ArtifactStore } from "./port.js";
import { assertSha256, chunksOf, collect, metaRecord, verifiedStream } from "./streams.js";

/*
 * Layout under `root`:
 *   sha256/<hex>            the bytes (read-only file)
 *   sha256/<hex>.meta.json  every distinct metadata record put with those bytes (a JSON array)
 *   tmp/                    puts in progress (renamed into place when complete)
 * The record sits next to the bytes so both renames are made durable by one directory fsync:
 * a put costs the data fsync, the record's fsync (only when the record is new) and one
 * directory fsync.
 */
export function fileArtifactStore(root: string): ArtifactStore {
  for (const d of ["sha256", "tmp"]) mkdirSync(path.join(root, d), { recursive: true });
  const objectPath = (sha256: string) => path.join(root, artifactKey(sha256));
  const metaPath = (sha256: string) => `${objectPath(sha256)}.meta.json`;

  function readMeta(sha256: string): ArtifactMeta[] {
    try {
      return JSON.parse(readFileSync(metaPath(sha256), "utf8")) as ArtifactMeta[];
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw new Error(`artifact metadata ${metaPath(sha256)} is unreadable (${(err as Error).message}); delete it and put the artifact again`, { cause: err });
    }
  }

  /** A temp file holding `bytes`, fsynced. */
  function durableTemp(bytes: Buffer): string {
    const tmp = path.join(root, "tmp", randomUUID());
    const fd = openSync(tmp, "w", 0o444);
    try {
      writeSync(fd, bytes);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    return tmp;
  }

  async function open(sha256: string): Promise<{ size: number }> {
    assertSha256(sha256);
    const s = await stat(objectPath(sha256)).catch(() => undefined);
    if (!s) throw new ArtifactNotFoundError(sha256);
    return { size: s.size };
  }

  return {
    async put(body, metaInput) {
      const { meta, bytes: metaBytes } = metaRecord(metaInput);
      const metaText = metaBytes.toString("utf8");
      const tmp = path.join(root, "tmp", randomUUID());
      const fd = openSync(tmp, "w", 0o444);
      const out = new HashingBlockWriter(fd);
      let sha256: string;
      try {
        for await (const chunk of chunksOf(body, { reuse: true })) await out.write(chunk);
        sha256 = await out.finish();
      } catch (err) {
        await out.settled();
        closeSync(fd);
        rmSync(tmp, { force: true });
        throw err;
      }
      closeSync(fd);
      const size = out.size;
      // From here on everything is synchronous, so two puts in this process cannot interleave
      // their read-modify-write of the record list. (Two processes putting the same bytes with
      // different metadata at the same instant can lose one record; the ledger's artifact_added
      // entry stays the authoritative record of who produced what.)
      const records = readMeta(sha256);
      const known = records.some((r) => canonicalize(r) === metaText);
      const metaTmp = known ? undefined : durableTemp(Buffer.from(JSON.stringify([...records, meta])));
      // Same bytes, same name: renaming over an existing copy is idempotent and also repairs a corrupt one.
      renameSync(tmp, objectPath(sha256));
      if (metaTmp) renameSync(metaTmp, metaPath(sha256));
      syncDir(path.join(root, "sha256"));
      return { ...meta, sha256, size, key: artifactKey(sha256) };
    },
    async stat(sha256): Promise<ArtifactInfo | undefined> {
      assertSha256(sha256);
      const s = await stat(objectPath(sha256)).catch(() => undefined);
      if (!s) return undefined;
      return { sha256, size: s.size, meta: readMeta(sha256) };
    },
    async read(sha256) {
      return collect(await this.stream(sha256));
    },
    async stream(sha256): Promise<Readable> {
      const { size } = await open(sha256);
      return verifiedStream(createReadStream(objectPath(sha256), { highWaterMark: BLOCK }), sha256, size);
    },
    async ready() {
      await access(path.join(root, "tmp")).catch(() => {
        throw new Error(`artifact directory ${root} is missing or unreadable; check DATA_DIR`);
      });
    },
    async close() {},
  };
}

/** A rename is durable only once its directory is synced. */
function syncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
