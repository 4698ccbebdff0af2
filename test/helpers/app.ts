// Starts the real app on 127.0.0.1 with a fresh data dir and the given settings; for tests only.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pino } from "pino";
import { loadConfig, type Config, type Env } from "../../src/config.js";
import { GuardedOctokit } from "../../src/handlers/github-app.js";
import { createApp, type App, type AppOverrides } from "../../src/main.js";
import { quietOctokit } from "./github.js";

export interface RunningApp {
  readonly app: App;
  readonly url: string;
  readonly config: Config;
  readonly dataDir: string;
  close(): Promise<void>;
}

/**
 * `logs`: where the app's JSON log lines go (give LOG_LEVEL in `env`); silent by default.
 * `overrides`: scripted activities or a shorter retry backoff for the workflow engine.
 * GitHub calls go out without Probot's retries and write throttling (one comment every few
 * seconds), as Probot recommends for tests; the merge guard stays.
 */
const testOctokit = GuardedOctokit.defaults(quietOctokit);

export async function startApp(env: Env = {}, logs?: NodeJS.WritableStream, overrides: AppOverrides = {}): Promise<RunningApp> {
  const dataDir = mkdtempSync(path.join(tmpdir(), "orchestrator-test-"));
  const config = loadConfig({ HOST: "127.0.0.1", PORT: "0", DATA_DIR: dataDir, LOG_LEVEL: "silent", ...env });
  const logger = logs ? pino({ level: config.log.level }, logs as pino.DestinationStream) : pino({ level: config.log.level });
  const app = await createApp(config, logger, { githubOctokit: testOctokit, ...overrides });
  const url = await app.listen();
  return {
    app,
    url,
    config,
    dataDir,
    async close() {
      await app.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
