// The artifact store port: content-addressed blobs (key sha256/<hex>), streamed in, verified on the way out.
import type { Readable } from "node:stream";
import { z } from "zod";
import { Sha256Hex } from "../ledger/port.js";

// One rule for a sha256 everywhere: ledger entries, artifact ids, evidence manifests.
export { Sha256Hex };

/** The storage key of a blob: `sha256/<hex>`. */
export function artifactKey(sha256: string): string {
  return `sha256/${sha256}`;
}

/** What the caller says about a blob it puts; one blob can carry several of these (one per put). */
export const ArtifactMeta = z.object({
  name: z.string().min(1).max(512),
  media_type: z.string().min(1).default("application/octet-stream"),
  run_id: z.string().min(1).optional(),
  producer_step: z.string().min(1).optional(),
});
export type ArtifactMeta = z.output<typeof ArtifactMeta>;
export type ArtifactMetaInput = z.input<typeof ArtifactMeta>;

/** A stored blob as one put saw it: its digest, size and that put's metadata. */
export const StoredArtifact = ArtifactMeta.extend({ sha256: Sha256Hex, size: z.number().int().nonnegative(), key: z.string() });
export type StoredArtifact = z.infer<typeof StoredArtifact>;

export interface ArtifactInfo {
  readonly sha256: string;
  readonly size: number;
  /** Every distinct metadata record put with these bytes. */
  readonly meta: readonly ArtifactMeta[];
}

/** A file on local disk, read in blocks into one reused buffer: the way to put large files with flat memory. */
export interface FileBody {
  readonly path: string;
}

/** Bytes to put: a file, a stream, an (async) iterable of chunks, or bytes already in memory. */
export type ArtifactBody = FileBody | Readable | AsyncIterable<Uint8Array> | Iterable<Uint8Array> | Uint8Array | string;

/** The stored bytes do not hash to their key: the object is corrupt and is not served. */
export class ArtifactCorruptError extends Error {
  constructor(
    readonly sha256: string,
    readonly actual: string,
  ) {
    super(`artifact sha256/${sha256} is corrupt: its stored bytes hash to ${actual}; restore it from a backup or re-run the step that produced it`);
    this.name = "ArtifactCorruptError";
  }
}

export class ArtifactNotFoundError extends Error {
  constructor(readonly sha256: string) {
    super(`no artifact sha256/${sha256} in the store`);
    this.name = "ArtifactNotFoundError";
  }
}

export interface ArtifactStore {
  /** Streams `body` in while hashing it, stores it under sha256/<hex> (idempotent) and records `meta`. */
  put(body: ArtifactBody, meta: ArtifactMetaInput): Promise<StoredArtifact>;
  /** Size and metadata of a blob, or undefined when absent (does not read the bytes). */
  stat(sha256: string): Promise<ArtifactInfo | undefined>;
  /** The whole blob, verified; throws ArtifactCorruptError / ArtifactNotFoundError. For small blobs. */
  read(sha256: string): Promise<Buffer>;
  /** A stream of the blob that hashes as it goes and ends with ArtifactCorruptError instead of 'end' on a mismatch: commit what you received only on 'end'. */
  stream(sha256: string): Promise<Readable>;
  /** Throws with a reason when the backend cannot be reached (for /readyz). */
  ready(): Promise<void>;
  close(): Promise<void>;
}
