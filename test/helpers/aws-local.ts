// Starts dynalite (DynamoDB) and s3rver (S3) as real HTTP servers on 127.0.0.1 for tests, with clients bound to them.
import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import dynalite from "dynalite";
import S3rver from "s3rver";
import type { Config } from "../../src/config.js";

const credentials = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };
const region = "us-east-1";

export interface LocalDynamo {
  readonly endpoint: string;
  readonly client: DynamoDBClient;
  close(): Promise<void>;
}

export async function startDynalite(): Promise<LocalDynamo> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new DynamoDBClient({ endpoint, region, credentials });
  return {
    endpoint,
    client,
    async close() {
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface LocalS3 {
  readonly endpoint: string;
  readonly client: S3Client;
  readonly directory: string;
  close(): Promise<void>;
}

export async function startS3rver(buckets: readonly string[]): Promise<LocalS3> {
  const directory = mkdtempSync(path.join(tmpdir(), "s3rver-"));
  const server = new S3rver({ port: 0, address: "127.0.0.1", silent: true, directory, configureBuckets: buckets.map((name) => ({ name })) });
  const { port } = (await server.run()) as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  const client = s3ClientFor(endpoint);
  return {
    endpoint,
    client,
    directory,
    async close() {
      client.destroy();
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** s3rver predates the SDK's default CRC checksums and virtual-host bucket addressing. */
export function s3ClientFor(endpoint: string): S3Client {
  return new S3Client({
    endpoint,
    region,
    credentials,
    forcePathStyle: true,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

/**
 * `base` with the ledger on a local DynamoDB table (created on first use). Set on the config
 * directly: through the environment the embedded engine refuses a DynamoDB ledger.
 */
export function withDynamoLedger(base: Config, dynamo: LocalDynamo, table = "orchestrator-ledger"): Config {
  return {
    ...base,
    aws: { region: "eu-west-1" },
    ledger: { ...base.ledger, backend: "dynamodb", dynamodbTable: table, dynamodbEndpoint: dynamo.endpoint, dynamodbCreateTable: true },
  };
}
