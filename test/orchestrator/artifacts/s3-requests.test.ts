// The S3 store's requests as AWS sees them: SSE-KMS on every object it writes, the temp object removed.
import { CopyObjectCommand, DeleteObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { s3ArtifactStore } from "../../../src/orchestrator/artifacts/s3.js";

describe("S3 artifact store requests", () => {
  const s3 = mockClient(S3Client);
  afterEach(() => s3.reset());
  const kmsKeyId = "arn:aws:kms:eu-west-1:111122223333:key/artifacts";

  it("asks for SSE-KMS with the configured key on the upload, the copy and the metadata record", async () => {
    s3.on(PutObjectCommand).resolves({});
    s3.on(CopyObjectCommand).resolves({});
    s3.on(DeleteObjectCommand).resolves({});
    const store = s3ArtifactStore({ client: new S3Client({ region: "eu-west-1" }), bucket: "evidence-bucket", kmsKeyId });
    const stored = await store.put("report\n", { name: "report.md", media_type: "text/markdown" });

    const puts = s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
    const upload = puts.find((p) => p.Key!.startsWith("tmp/"))!;
    const meta = puts.find((p) => p.Key!.startsWith(`meta/${stored.sha256}/`))!;
    const copy = s3.commandCalls(CopyObjectCommand)[0]!.args[0].input;
    for (const req of [upload, meta, copy]) expect(req).toMatchObject({ Bucket: "evidence-bucket", ServerSideEncryption: "aws:kms", SSEKMSKeyId: kmsKeyId });
    expect(copy).toMatchObject({ Key: `sha256/${stored.sha256}`, CopySource: `evidence-bucket/${upload.Key}`, MetadataDirective: "REPLACE", Metadata: { sha256: stored.sha256 } });
    expect(s3.commandCalls(DeleteObjectCommand)[0]!.args[0].input).toEqual({ Bucket: "evidence-bucket", Key: upload.Key });
  });

  it("leaves encryption to the bucket default without a key", async () => {
    s3.on(PutObjectCommand).resolves({});
    s3.on(CopyObjectCommand).resolves({});
    s3.on(DeleteObjectCommand).resolves({});
    await s3ArtifactStore({ client: new S3Client({ region: "eu-west-1" }), bucket: "evidence-bucket" }).put("x", { name: "x" });
    for (const c of [...s3.commandCalls(PutObjectCommand), ...s3.commandCalls(CopyObjectCommand)]) expect(c.args[0].input).not.toHaveProperty("ServerSideEncryption");
  });
});
