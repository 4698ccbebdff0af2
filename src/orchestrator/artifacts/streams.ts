// Byte plumbing shared by the artifact adapters: body → chunks, and a stream that verifies a digest as it passes.
import { createHash, hash } from "node:crypto";
import { closeSync, openSync, readSync } from "node:fs";
import { PassThrough, pipeline, Readable, Transform, type TransformCallback } from "node:stream";
import canonicalize from "canonicalize";
import { ArtifactCorruptError, ArtifactMeta, Sha256Hex, type ArtifactBody, type ArtifactMetaInput, type FileBody } from "./port.js";

const SLICE = 1024 * 1024;

/**
 * The body as chunks; in-memory bodies are sliced (not copied) so writers see bounded pieces.
 * A file is read into one reused buffer when `reuse` is set: the caller must be done with each
 * chunk before asking for the next (the files store copies it into its own blocks); otherwise each
 * block is a fresh buffer (for consumers that queue chunks, like an S3 upload).
 */
export async function* chunksOf(body: ArtifactBody, opts: { reuse?: boolean } = {}): AsyncGenerator<Uint8Array> {
  if (typeof body === "string") body = Buffer.from(body, "utf8");
  if (body instanceof Uint8Array) {
    for (let i = 0; i < body.byteLength; i += SLICE) yield body.subarray(i, Math.min(i + SLICE, body.byteLength));
    return;
  }
  if (isFileBody(body)) {
    const fd = openSync(body.path, "r");
    try {
      let block = Buffer.allocUnsafe(SLICE);
      for (;;) {
        const n = readSync(fd, block, 0, SLICE, null);
        if (n === 0) return;
        yield block.subarray(0, n);
        if (!opts.reuse) block = Buffer.allocUnsafe(SLICE);
      }
    } finally {
      closeSync(fd);
    }
  }
  for await (const chunk of body as AsyncIterable<Uint8Array | string>) yield typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
}

function isFileBody(body: ArtifactBody): body is FileBody {
  return typeof body === "object" && body !== null && !(Symbol.asyncIterator in body) && !(Symbol.iterator in body) && typeof (body as FileBody).path === "string";
}

/** `source` passed through `verifying`: the stream an adapter's `stream()` returns, failing instead of ending on a mismatch. */
export function verifiedStream(source: Readable, sha256: string, size?: number): Readable {
  const out = new PassThrough();
  // pipeline forwards any error to `out`, where the reader sees it; nothing is left for the callback.
  pipeline(source, verifying(sha256, size), out, () => {});
  return out;
}

/** Passes bytes through unchanged; at the end fails with ArtifactCorruptError unless they hash to `sha256` and count `size`. */
function verifying(sha256: string, size?: number): Transform {
  const h = createHash("sha256");
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      h.update(chunk);
      seen += chunk.byteLength;
      cb(null, chunk);
    },
    flush(cb: TransformCallback) {
      const actual = h.digest("hex");
      if (actual !== sha256 || (size !== undefined && seen !== size)) cb(new ArtifactCorruptError(sha256, actual));
      else cb();
    },
  });
}

/** Reads a verified stream fully; rejects with ArtifactCorruptError on a mismatch. */
export async function collect(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

/** Validated metadata and a stable id for it (so putting the same blob with the same metadata twice is one record). */
export function metaRecord(input: ArtifactMetaInput): { meta: ArtifactMeta; id: string; bytes: Buffer } {
  const parsed = ArtifactMeta.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TypeError(`artifact metadata: ${issue?.path.join(".") || "meta"} ${issue?.message ?? "is invalid"}`);
  }
  const bytes = Buffer.from(canonicalize(parsed.data)!, "utf8");
  return { meta: parsed.data, id: hash("sha256", bytes), bytes };
}

export function assertSha256(sha256: string): void {
  if (!Sha256Hex.safeParse(sha256).success) throw new TypeError(`artifact id must be 64 lowercase hex digits (a sha256), got ${JSON.stringify(sha256)}`);
}
