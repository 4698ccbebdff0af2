// The composition root: configuration → adapters → HTTP server. The only place that chooses backends.
import { mkdirSync } from "node:fs";
import { access, constants, mkdir } from "node:fs/promises";
import path from "node:path";
import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import type { Probot } from "probot";
import type { Config } from "./config.js";
import { githubWebhooks } from "./handlers/github.js";
import { createGithubApp, GuardedOctokit } from "./handlers/github-app.js";
import { gitlabWebhooks } from "./handlers/gitlab.js";
import { jiraWebhooks } from "./handlers/jira.js";
import { createHttpServer, type HttpEdge, type ReadinessCheck } from "./handlers/server.js";
import { webhookEdge, type DeliverySink } from "./handlers/webhook-route.js";
import { startWebhookRelay, type WebhookRelay } from "./handlers/webhook-proxy.js";
import { createIntake, type Intake } from "./intake.js";
import type { Logger } from "./log.js";
import { openSqlite } from "./store/sqlite.js";
import type { AuditStores } from "./orchestrator/evidence/wire.js";
import type { WorkflowEngine } from "./orchestrator/engine/port.js";
import type { ModelRouterParts } from "./router/wire.js";
import { buildRunServices, type RunServiceOverrides } from "./run-services.js";

export interface App {
  readonly config: Config;
  readonly server: FastifyInstance;
  /**
   * The GitHub App's Probot when APP_ID, the private key and WEBHOOK_SECRET are set: the
   * background worker's GitHub clients come from it (deliveries are normalised without it).
   */
  readonly github: Probot | undefined;
  /** The ingestion pipeline: delivery queue, background worker, run requests. */
  readonly intake: Intake;
  /** The model router, its kill switch, and the minting of run-scoped model-gateway tokens. */
  readonly models: ModelRouterParts;
  /** Run ledger, artifact store, evidence signer and bundles. */
  readonly audit: AuditStores;
  /** The workflow engine (ENGINE): starts runs, applies decisions, cancels. */
  readonly engine: WorkflowEngine;
  /** Starts listening; resolves to the base URL. */
  listen(): Promise<string>;
  /** Stops accepting requests, waits for in-flight ones, then closes every store. */
  close(): Promise<void>;
}

/** Something the app must close on shutdown, in reverse order of creation. */
type Closer = () => Promise<void> | void;

/** What tests replace: the run services' parts, and the GitHub App's client class. */
export interface AppOverrides extends RunServiceOverrides {
  readonly githubOctokit?: typeof GuardedOctokit;
}

export async function createApp(config: Config, logger: Logger, overrides: AppOverrides = {}): Promise<App> {
  const closers: Closer[] = [];
  const dataDir = path.resolve(config.data.dir);
  mkdirSync(dataDir, { recursive: true });

  const github = createGithubApp(config, logger, overrides.githubOctokit);

  // One connection to the shared embedded store; every embedded adapter uses it (src/store/sqlite.ts).
  const dbFile = path.join(dataDir, "orchestrator.db");
  const db = openSqlite(dbFile, { synchronous: config.data.sqliteSynchronous });
  closers.push(() => db.close());
  // Audit stores, model router and workflow engine, each closed after what depends on it.
  const { audit, models, engine, closers: runClosers } = await buildRunServices({ config, dataDir, db, dbFile, logger, env: process.env, overrides });
  closers.push(...runClosers);
  const ledger = audit.ledger;
  // Ingestion starts runs on the engine and applies slash commands to them; its worker stops first on shutdown.
  const intake = createIntake(config, db, github, logger, { engine, ledger });
  closers.push(() => intake.close());
  const sink: DeliverySink = intake.sink;

  const edges: HttpEdge[] = [];
  const off: string[] = [];
  if (config.github.appId) edges.push(webhookEdge(githubWebhooks(config.github), sink));
  else off.push("GitHub webhooks (set APP_ID, PRIVATE_KEY or PRIVATE_KEY_PATH, WEBHOOK_SECRET; or run `orchestrator setup github`)");
  if (config.gitlab.webhookToken) edges.push(webhookEdge(gitlabWebhooks(config.gitlab), sink));
  else off.push("GitLab webhooks (set GITLAB_WEBHOOK_TOKEN)");
  if (config.jira.webhookSecret) edges.push(webhookEdge(jiraWebhooks(config.jira), sink));
  else off.push("Jira webhooks (set JIRA_WEBHOOK_SECRET)");

  const readiness: ReadinessCheck[] = [{ name: "data_dir", check: () => writable(dataDir) }];
  edges.push(audit.edge);
  readiness.push(...audit.readiness);

  edges.push(models.edge);
  readiness.push(models.readiness);

  const server = await createHttpServer({
    logger,
    bodyLimitBytes: config.server.bodyLimitBytes,
    metrics: config.telemetry.metrics,
    edges,
    readiness,
  });
  for (const e of edges) logger.info({ edge: e.name }, "edge on");
  for (const o of off) logger.info(`edge off: ${o}`);

  if (config.github.webhookProxyUrl && !github) logger.warn("WEBHOOK_PROXY_URL is ignored: the GitHub App is not configured");
  let relay: WebhookRelay | undefined;

  return {
    config,
    server,
    github,
    intake,
    models,
    audit,
    engine,
    async listen() {
      const url = await server.listen({ host: config.server.host, port: config.server.port });
      const proxy = config.github.webhookProxyUrl;
      if (proxy && github) {
        const target = `${loopbackUrl(server)}/api/github/webhooks`;
        // A dead channel must not stop the server: it only matters for local development.
        relay = await startWebhookRelay(proxy, target, logger).catch((err: unknown) => {
          logger.warn({ err, source: proxy }, "webhook proxy unreachable; deliveries from WEBHOOK_PROXY_URL will not arrive");
          return undefined;
        });
      }
      return url;
    },
    async close() {
      // The relay first, so nothing new arrives while in-flight requests finish.
      await relay?.stop();
      await server.close();
      for (const close of closers.reverse()) await close();
    },
  };
}

/** Where this process reaches its own server, whatever interface it is bound to. */
function loopbackUrl(server: FastifyInstance): string {
  const { address, port, family } = server.server.address() as AddressInfo;
  if (address === "0.0.0.0" || address === "::") return `http://127.0.0.1:${port}`;
  return family === "IPv6" ? `http://[${address}]:${port}` : `http://${address}:${port}`;
}

async function writable(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await access(dir, constants.W_OK).catch(() => {
    throw new Error(`data dir ${dir} is not writable; fix its permissions or set DATA_DIR`);
  });
}
