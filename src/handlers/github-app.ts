// Builds the Probot instance for the configured GitHub App: webhook handlers register on it, and it hands out installation clients.
import { Probot, ProbotOctokit } from "probot";
import { githubPrivateKey, type Config } from "../config.js";
import { refuseMergeCall } from "../forges/merge-guard.js";
import type { Logger } from "../log.js";

/** REST base URL of the GitHub the App lives on: github.com, or `https://<GHE_HOST>/api/v3` for Enterprise Server. */
export function githubApiBaseUrl(host: string | undefined): string | undefined {
  return host ? `https://${host}/api/v3` : undefined;
}

/**
 * A Probot for the App in `config`, or undefined when the App is not configured.
 *
 * Signature checking stays in our own webhook edge (it accepts the previous secret while
 * rotating, which Probot cannot), and deliveries are normalised there without Probot's
 * per-delivery context (see src/handlers/ingest.ts); this instance hands out the App's
 * installation clients, with Probot's retry and rate-limit throttling plugins on, logging
 * through our logger.
 */
/** Probot's Octokit with one addition: a request that would merge is refused before it is sent. */
export const GuardedOctokit = ProbotOctokit.plugin((octokit) => {
  octokit.hook.before("request", (options) => refuseMergeCall(options.method, options.url, options["query"]));
});

/**
 * `Octokit` replaces the client class, e.g. in tests a `GuardedOctokit.defaults(fn)` that turns
 * throttling off (it should keep the merge guard).
 */
export function createGithubApp(config: Config, logger: Logger, Octokit: typeof GuardedOctokit = GuardedOctokit): Probot | undefined {
  const gh = config.github;
  if (!gh.appId || !gh.webhookSecret) return undefined;
  const privateKey = githubPrivateKey(config);
  if (!privateKey) return undefined;
  const baseUrl = githubApiBaseUrl(gh.host);
  return new Probot({
    appId: gh.appId,
    privateKey,
    secret: gh.webhookSecret,
    log: logger.child({ component: "github-app" }),
    Octokit,
    ...(baseUrl ? { baseUrl } : {}),
  });
}
