// Builds the ingestion pipeline from configuration, starting runs on the engine (part of the composition root; the CLI's `receive` uses it too).
import type { Probot } from "probot";
import type { Config } from "./config.js";
import { githubIntakePorts } from "./forges/github.js";
import { gitlabIntakePorts } from "./forges/gitlab.js";
import { parseCommands } from "./handlers/commands/parse.js";
import { ingestSink } from "./handlers/ingest.js";
import type { DeliverySink } from "./handlers/webhook-route.js";
import type { Logger } from "./log.js";
import { startingSink, type WorkflowEngine } from "./orchestrator/engine/port.js";
import { unconfiguredForge } from "./orchestrator/forge-ports.js";
import { DeliveryQueue } from "./orchestrator/intake/delivery-queue.js";
import { eventProcessor, eventScreen, type MappedRepo } from "./orchestrator/intake/process.js";
import { SqliteRunRequests } from "./orchestrator/intake/run-request-store.js";
import type { Ledger } from "./orchestrator/ledger/port.js";
import { engineRunControl, runsAbout } from "./orchestrator/run-control-engine.js";
import { DeliveryWorker } from "./orchestrator/intake/worker.js";
import type { DatabaseSync } from "./store/sqlite.js";
import { jiraCommentPoster } from "./trackers/jira.js";

export interface Intake {
  /** What the webhook edges hand authenticated deliveries to. */
  readonly sink: DeliverySink;
  readonly queue: DeliveryQueue;
  readonly worker: DeliveryWorker;
  readonly runRequests: SqliteRunRequests;
  /** Stops the worker after the deliveries in hand. */
  close(): Promise<void>;
}

/** What run requests start and slash commands act on: the workflow engine and the ledger it records runs in. */
export interface IntakeRuns {
  readonly engine: WorkflowEngine;
  readonly ledger: Ledger;
}

export function createIntake(config: Config, db: DatabaseSync, github: Probot | undefined, logger: Logger, runs: IntakeRuns): Intake {
  const queue = new DeliveryQueue(db, {
    maxAttempts: config.intake.maxAttempts,
    leaseMs: config.intake.leaseMs,
    backoffMs: config.intake.retryMs,
  });
  const runRequests = new SqliteRunRequests(db);
  // Each request is kept, then its run started; both are keyed by the idempotency key, so a
  // crash or engine error between them is repaired when the delivery is processed again.
  const starting = startingSink(runRequests, runs.engine);
  const gitlabHost = new URL(config.gitlab.url).host;
  const jiraProjects: Record<string, MappedRepo> = {};
  for (const [key, r] of Object.entries(config.jira.projectRepos)) {
    jiraProjects[key] = { ...r, host: r.forge === "github" ? (config.github.host ?? "github.com") : gitlabHost };
  }
  const { email, apiToken, baseUrl } = config.jira;
  const botLogins = [config.github.botLogin, config.gitlab.botUsername].filter((l): l is string => Boolean(l));
  const process = eventProcessor({
    forges: {
      github: github ? githubIntakePorts(github) : unconfiguredForge("GitHub", "APP_ID, PRIVATE_KEY or PRIVATE_KEY_PATH and WEBHOOK_SECRET"),
      gitlab: config.gitlab.token ? gitlabIntakePorts({ baseUrl: config.gitlab.url, token: config.gitlab.token }) : unconfiguredForge("GitLab", "GITLAB_TOKEN"),
    },
    ...(email && apiToken && baseUrl ? { jira: jiraCommentPoster({ baseUrl, email, apiToken }) } : {}),
    runRequests: { submit: (r) => starting.submit(r), forSubject: (repo, ref) => runRequests.forSubject(repo, ref) },
    runControl: engineRunControl({ engine: runs.engine, ledger: runs.ledger, requests: runRequests }),
    runs: (repo, subject) => runsAbout(runs.ledger, repo, subject),
    readCommands: parseCommands,
    settings: {
      botLogins,
      jiraProjects,
      jiraTransitions: config.jira.transitions,
      jiraCommandUsers: config.jira.commandUsers,
    },
  });
  const log = logger.child({ component: "intake" });
  const worker = new DeliveryWorker(queue, process, { concurrency: config.intake.concurrency, pollMs: 1_000, log });
  worker.start();
  return {
    sink: ingestSink({ queue, screen: eventScreen(botLogins, parseCommands) }),
    queue,
    worker,
    runRequests,
    async close() {
      await worker.stop();
      await queue.close();
    },
  };
}
