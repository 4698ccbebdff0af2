// The AWS artifact store: S3 objects under sha256/<hex>, streamed up through a hashing pass, SSE-KMS when a key is set.
import { createHash, randomUUID } from "node:crypto";
import { PassThrough, type Readable } from "node:stream";
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NotFound,
  NoSuchKey,
  PutObjectCommand,
  type S3Client,
  type ServerSideEncryption,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { ArtifactNotFoundError, artifactKey, type ArtifactInfo, type ArtifactMeta, type ArtifactStore } from "./port.js";
import { assertSha256, chunksOf, collect, metaRecord, verifiedStream } from "./streams.js";

export interface S3ArtifactOptions {
  readonly client: S3Client;
  readonly bucket: string;
  /** KMS key for SSE-KMS; without it objects get the bucket's default encryption. */
  readonly kmsKeyId?: string;
  /** Multipart part size; memory in flight is about partSize × queueSize. */
  readonly partSize?: number;
}

/*
 * The key depends on the digest, which is known only at the end of the stream, so a put
 * uploads to tmp/<uuid> while hashing, then copies server-side to sha256/<hex> (same bytes, so
 * idempotent) and deletes the temporary object. Memory stays flat at
 * about partSize × 2 whatever the size, and the bytes cross the network once.
 * Objects over 5 GB would need a multipart copy; artifacts are far smaller.
 */
export function s3ArtifactStore(opts: S3ArtifactOptions): ArtifactStore {
  const { client, bucket } = opts;
  const partSize = opts.partSize ?? 5 * 1024 * 1024;
  const encryption = opts.kmsKeyId ? { ServerSideEncryption: "aws:kms" as ServerSideEncryption, SSEKMSKeyId: opts.kmsKeyId } : {};

  async function head(sha256: string): Promise<number | undefined> {
    try {
      return (await client.send(new HeadObjectCommand({ Bucket: bucket, Key: artifactKey(sha256) }))).ContentLength ?? 0;
    } catch (err) {
      if (err instanceof NotFound || (err instanceof Error && err.name === "NotFound")) return undefined;
      throw err;
    }
  }

  return {
    async put(body, metaInput) {
      const { meta, id, bytes: metaBytes } = metaRecord(metaInput);
      const h = createHash("sha256");
      let size = 0;
      const hashed = new PassThrough({ highWaterMark: partSize });
      const feeding = (async () => {
        try {
          for await (const chunk of chunksOf(body)) {
            h.update(chunk);
            size += chunk.byteLength;
            if (!hashed.write(chunk)) await new Promise((resolve) => hashed.once("drain", resolve));
          }
          hashed.end();
        } catch (err) {
          hashed.destroy(err as Error);
          throw err;
        }
      })();
      const tmpKey = `tmp/${randomUUID()}`;
      const upload = new Upload({ client, params: { Bucket: bucket, Key: tmpKey, Body: hashed, ContentType: meta.media_type, ...encryption }, partSize, queueSize: 2 });
      try {
        await Promise.all([feeding, upload.done()]);
        const sha256 = h.digest("hex");
        // Copying over an existing object is idempotent (same bytes) and repairs a damaged one, as the files store does.
        await client.send(
          new CopyObjectCommand({
            Bucket: bucket,
            Key: artifactKey(sha256),
            CopySource: `${bucket}/${tmpKey}`,
            ContentType: meta.media_type,
            Metadata: { sha256 },
            MetadataDirective: "REPLACE",
            ...encryption,
          }),
        );
        await client.send(
          new PutObjectCommand({ Bucket: bucket, Key: `meta/${sha256}/${id}.json`, Body: metaBytes, ContentType: "application/json", ...encryption }),
        );
        return { ...meta, sha256, size, key: artifactKey(sha256) };
      } finally {
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: tmpKey })).catch(() => undefined);
      }
    },
    async stat(sha256): Promise<ArtifactInfo | undefined> {
      assertSha256(sha256);
      const size = await head(sha256);
      if (size === undefined) return undefined;
      const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `meta/${sha256}/` }));
      const keys = (listed.Contents ?? []).map((o) => o.Key!).sort();
      const meta = await Promise.all(
        keys.map(async (Key) => JSON.parse(await (await client.send(new GetObjectCommand({ Bucket: bucket, Key }))).Body!.transformToString()) as ArtifactMeta),
      );
      return { sha256, size, meta };
    },
    async read(sha256) {
      return collect(await this.stream(sha256));
    },
    async stream(sha256): Promise<Readable> {
      assertSha256(sha256);
      let res;
      try {
        res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: artifactKey(sha256) }));
      } catch (err) {
        if (err instanceof NoSuchKey || (err instanceof Error && err.name === "NoSuchKey")) throw new ArtifactNotFoundError(sha256);
        throw err;
      }
      return verifiedStream(res.Body as Readable, sha256, res.ContentLength);
    },
    async ready() {
      await client.send(new HeadBucketCommand({ Bucket: bucket })).catch((err: unknown) => {
        const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
        const why = err instanceof Error ? `${err.name}${status ? ` (HTTP ${status})` : ""}: ${err.message}` : String(err);
        throw new Error(`S3 bucket ${bucket} is not reachable: ${why}; check S3_BUCKET, AWS_REGION and credentials`);
      });
    },
    async close() {},
  };
}
