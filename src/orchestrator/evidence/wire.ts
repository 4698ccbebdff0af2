// Builds the audit backends (ledger, artifact store, signer, evidence) from configuration, for the server and the CLI alike.
import { readFileSync } from "node:fs";
import path from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { KMSClient } from "@aws-sdk/client-kms";
import { S3Client } from "@aws-sdk/client-s3";
import type { Config } from "../../config.js";
import type { HttpEdge, ReadinessCheck } from "../../handlers/server.js";
import type { DatabaseSync } from "../../store/sqlite.js";
import { fileArtifactStore } from "../artifacts/files.js";
import type { ArtifactStore } from "../artifacts/port.js";
import { s3ArtifactStore } from "../artifacts/s3.js";
import { dynamoLedger } from "../ledger/dynamodb.js";
import type { Ledger, TransactionalLedger } from "../ledger/port.js";
import { sqliteLedger } from "../ledger/sqlite.js";
import { kmsSigner } from "../signing/kms.js";
import { localSigner } from "../signing/local.js";
import type { Signer } from "../signing/port.js";
import { evidenceService, type EvidenceService } from "./service.js";

/** Where the signing keys are published. */
export const SIGNING_KEYS_PATH = "/.well-known/orchestrator/signing-keys.json";

export interface AuditStores {
  readonly ledger: Ledger;
  /** The ledger when it is the embedded SQLite one, which can append inside a caller's transaction. */
  readonly transactionalLedger: TransactionalLedger | undefined;
  /** The ledger's DynamoDB table and client when LEDGER_BACKEND=dynamodb, for stores that share it (budgets); closed with the rest. */
  readonly dynamoTable: { readonly client: DynamoDBClient; readonly table: string } | undefined;
  readonly artifacts: ArtifactStore;
  readonly signer: Signer;
  readonly evidence: EvidenceService;
  readonly readiness: ReadinessCheck[];
  /** Publishes the public signing keys at SIGNING_KEYS_PATH. */
  readonly edge: HttpEdge;
  close(): Promise<void>;
}

export interface AuditStoreDeps {
  readonly config: Config;
  readonly dataDir: string;
  /** The shared embedded database and its file (the file lets `ledger verify` use worker threads). */
  readonly db: DatabaseSync;
  readonly dbFile: string;
}

const { version } = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string };

export async function buildAuditStores({ config, dataDir, db, dbFile }: AuditStoreDeps): Promise<AuditStores> {
  const region = config.aws.region;
  const clients: Array<{ destroy(): void }> = [];
  const client = <T extends { destroy(): void }>(c: T): T => (clients.push(c), c);

  let ledger: Ledger;
  let transactionalLedger: TransactionalLedger | undefined;
  let dynamoTable: AuditStores["dynamoTable"];
  if (config.ledger.backend === "dynamodb") {
    const dynamo = client(new DynamoDBClient({ region, ...(config.ledger.dynamodbEndpoint ? { endpoint: config.ledger.dynamodbEndpoint } : {}) }));
    ledger = await dynamoLedger({ client: dynamo, table: config.ledger.dynamodbTable, createTable: config.ledger.dynamodbCreateTable });
    dynamoTable = { client: dynamo, table: config.ledger.dynamodbTable };
  } else {
    ledger = transactionalLedger = sqliteLedger({ db, file: dbFile });
  }

  const artifacts =
    config.artifacts.backend === "s3"
      ? s3ArtifactStore({
          client: client(
            new S3Client({
              region,
              // Local S3 servers (s3rver, MinIO) need path-style addressing and no default CRC checksums.
              ...(config.artifacts.s3Endpoint
                ? { endpoint: config.artifacts.s3Endpoint, forcePathStyle: true, requestChecksumCalculation: "WHEN_REQUIRED", responseChecksumValidation: "WHEN_REQUIRED" }
                : {}),
            }),
          ),
          bucket: config.artifacts.s3Bucket!,
          ...(config.artifacts.s3KmsKeyId ? { kmsKeyId: config.artifacts.s3KmsKeyId } : {}),
        })
      : fileArtifactStore(path.join(dataDir, "artifacts"));

  const signer =
    config.evidence.signer === "kms"
      ? kmsSigner({ client: client(new KMSClient({ region, ...(config.evidence.kmsEndpoint ? { endpoint: config.evidence.kmsEndpoint } : {}) })), keyId: config.evidence.kmsSigningKeyId! })
      : localSigner(dataDir);

  const evidence = evidenceService({ ledger, artifacts, signer, builder: { id: config.server.publicUrl ?? "urn:scintilla-orchestrator", version } });

  return {
    ledger,
    transactionalLedger,
    dynamoTable,
    artifacts,
    signer,
    evidence,
    readiness: [
      { name: "ledger", check: () => ledger.ready() },
      { name: "artifacts", check: () => artifacts.ready() },
      { name: "signer", check: async () => void (await signer.publicKey()) },
    ],
    edge: {
      name: "signing-keys",
      register(app) {
        app.get(SIGNING_KEYS_PATH, async (_request, reply) => {
          const keys = await evidence.trustedKeys();
          return reply.header("cache-control", "public, max-age=300").send({ keys });
        });
      },
    },
    async close() {
      await ledger.close();
      await artifacts.close();
      for (const c of clients) c.destroy();
    },
  };
}
