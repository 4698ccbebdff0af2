// Builds what runs need, in order: audit stores, model router (whose policy version runs record), workflow engine; for the server and `receive`.
import type { Config } from "./config.js";
import type { Logger } from "./log.js";
import type { ActivityRegistry } from "./orchestrator/activities/registry.js";
import type { WorkflowEngine } from "./orchestrator/engine/port.js";
import { buildEngine } from "./orchestrator/engine/wire.js";
import { buildAuditStores, type AuditStores } from "./orchestrator/evidence/wire.js";
import { secretsManagerFetcher } from "./router/credentials.js";
import { buildModelRouter, type ModelRouterParts } from "./router/wire.js";
import type { DatabaseSync } from "./store/sqlite.js";

/** Replacements for tests (and embedders): scripted activities, a shorter retry backoff. Production passes none. */
export interface RunServiceOverrides {
  readonly activities?: ActivityRegistry;
  /** Milliseconds before a retry the workflow definition delays by `seconds` (embedded engine). */
  readonly retryDelayMs?: (seconds: number) => number;
}

export interface RunServices {
  readonly audit: AuditStores;
  readonly models: ModelRouterParts;
  readonly engine: WorkflowEngine;
  /** In creation order; close them in reverse (the engine first, the stores last). */
  readonly closers: ReadonlyArray<() => Promise<void> | void>;
}

export interface RunServiceParts {
  readonly config: Config;
  readonly dataDir: string;
  /** The shared connection to `dbFile`. */
  readonly db: DatabaseSync;
  readonly dbFile: string;
  readonly logger: Logger;
  /** Where the routing policy's `{env: NAME}` credentials are read (the process environment). */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly overrides?: RunServiceOverrides;
  /**
   * False for one-shot CLI commands: the embedded engine records and queues runs but executes no
   * steps in this process; the server's engine takes them. Default true.
   */
  readonly takeWork?: boolean;
}

export async function buildRunServices(p: RunServiceParts): Promise<RunServices> {
  const { config, dataDir, db, dbFile, logger } = p;
  const closers: Array<() => Promise<void> | void> = [];
  // Ledger, artifacts, signer and evidence bundles (LEDGER_BACKEND, ARTIFACTS_BACKEND, SIGNER).
  const audit = await buildAuditStores({ config, dataDir, db, dbFile });
  closers.push(() => audit.close());
  // Model router and the agents' gateway; the policy names provider credentials as env vars, resolved here.
  const models = await buildModelRouter({
    settings: config.router,
    dynamoTable: audit.dynamoTable,
    dataDir,
    db,
    ledger: audit.ledger,
    transactionalLedger: audit.transactionalLedger,
    env: p.env,
    fetchSecret: secretsManagerFetcher(),
    logger,
  });
  closers.push(() => models.close());
  // Workflow engine (ENGINE): embedded over the shared database, or Step Functions; stopped before the stores close.
  // Runs record the routing policy's version, or `invalid:<sha256>` when it failed to load (see ModelRouterParts).
  const o = p.overrides ?? {};
  const engine = buildEngine({
    config,
    ledger: audit.ledger,
    transactionalLedger: audit.transactionalLedger,
    db,
    logger,
    policyVersion: models.policyVersion,
    takeWork: p.takeWork ?? true,
    ...(o.activities ? { activities: o.activities } : {}),
    ...(o.retryDelayMs ? { retryDelayMs: o.retryDelayMs } : {}),
  });
  closers.push(() => engine.stop(config.server.shutdownTimeoutMs));
  return { audit, models, engine, closers };
}
