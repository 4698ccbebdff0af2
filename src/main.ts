// The composition root: configuration → adapters → HTTP server. The only place that chooses backends.
import { mkdirSync } from "node:fs";
import { access, constants, mkdir } from "node:fs/promises";
import path from "node:path";
import type { FastifyInstance } from "fastify";
import type { Config } from "./config.js";
import { githubWebhooks } from "./handlers/github.js";
import { gitlabWebhooks } from "./handlers/gitlab.js";
import { jiraWebhooks } from "./handlers/jira.js";
import { createHttpServer, type HttpEdge, type ReadinessCheck } from "./handlers/server.js";
import { webhookEdge, type DeliverySink } from "./handlers/webhook-route.js";
import type { Logger } from "./log.js";

export interface App {
  readonly config: Config;
  readonly server: FastifyInstance;
  /** Starts listening; resolves to the base URL. */
  listen(): Promise<string>;
  /** Stops accepting requests, waits for in-flight ones, then closes every store. */
  close(): Promise<void>;
}

/** Something the app must close on shutdown, in reverse order of creation. */
type Closer = () => Promise<void> | void;

export async function createApp(config: Config, logger: Logger): Promise<App> {
  const closers: Closer[] = [];
  const dataDir = path.resolve(config.data.dir);
  mkdirSync(dataDir, { recursive: true });

  // Until the ingestion pipeline lands, an authenticated delivery is acknowledged and logged only.
  const sink: DeliverySink = { accept: async () => ({ status: "accepted" }) };

  const edges: HttpEdge[] = [];
  const off: string[] = [];
  if (config.github.appId) edges.push(webhookEdge(githubWebhooks(config.github), sink));
  else off.push("GitHub webhooks (set APP_ID, PRIVATE_KEY or PRIVATE_KEY_PATH, WEBHOOK_SECRET; or run `orchestrator setup github`)");
  if (config.gitlab.webhookToken) edges.push(webhookEdge(gitlabWebhooks(config.gitlab), sink));
  else off.push("GitLab webhooks (set GITLAB_WEBHOOK_TOKEN)");
  if (config.jira.webhookSecret) edges.push(webhookEdge(jiraWebhooks(config.jira), sink));
  else off.push("Jira webhooks (set JIRA_WEBHOOK_SECRET)");

  const readiness: ReadinessCheck[] = [{ name: "data_dir", check: () => writable(dataDir) }];

  const server = await createHttpServer({
    logger,
    bodyLimitBytes: config.server.bodyLimitBytes,
    metrics: config.telemetry.metrics,
    edges,
    readiness,
  });
  for (const e of edges) logger.info({ edge: e.name }, "edge on");
  for (const o of off) logger.info(`edge off: ${o}`);

  return {
    config,
    server,
    async listen() {
      return server.listen({ host: config.server.host, port: config.server.port });
    },
    async close() {
      await server.close();
      for (const close of closers.reverse()) await close();
    },
  };
}

async function writable(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await access(dir, constants.W_OK).catch(() => {
    throw new Error(`data dir ${dir} is not writable; fix its permissions or set DATA_DIR`);
  });
}
