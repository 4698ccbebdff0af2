// The GitHub App manifest flow: app.yml → manifest JSON, where to post it, and the code → credentials exchange.
import { readFileSync } from "node:fs";
import { ProbotOctokit } from "probot";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { githubApiBaseUrl } from "../handlers/github-app.js";

/** app.yml beside package.json (the same relative place from src/ and dist/). */
export const defaultManifestFile = new URL("../../app.yml", import.meta.url);

/** The parts of app.yml we read; GitHub validates the rest (docs: "GitHub App manifest parameters"). */
const appYml = z.looseObject({
  name: z.string().min(1),
  url: z.url(),
  description: z.string().optional(),
  public: z.boolean().optional(),
  default_permissions: z.record(z.string(), z.enum(["read", "write"])),
  default_events: z.array(z.string()),
});

export interface ManifestOptions {
  /** Where GitHub sends deliveries: the public webhook URL or a smee.io channel. */
  readonly webhookUrl: string;
  /** Where GitHub sends the browser back with `?code=`. */
  readonly redirectUrl: string;
  /** Overrides app.yml's name (App names are unique on a GitHub host). */
  readonly name?: string;
}

export type GithubAppManifest = z.infer<typeof appYml> & {
  hook_attributes: { url: string; active: boolean };
  redirect_url: string;
};

export function readManifest(file: string | URL, opts: ManifestOptions): GithubAppManifest {
  const text = readFileSync(file, "utf8");
  const parsed = appYml.safeParse(parseYaml(text));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${String(file)}: ${issue?.path.join(".") || "(root)"} ${issue?.message ?? "is invalid"}`);
  }
  return {
    ...parsed.data,
    ...(opts.name ? { name: opts.name } : {}),
    hook_attributes: { url: opts.webhookUrl, active: true },
    redirect_url: opts.redirectUrl,
  };
}

/** The page that takes a manifest: personal account, an organization, or the same on GitHub Enterprise Server. */
export function createAppUrl(opts: { org?: string; gheHost?: string; state: string }): string {
  const host = opts.gheHost ?? "github.com";
  const owner = opts.org ? `/organizations/${encodeURIComponent(opts.org)}` : "";
  return `https://${host}${owner}/settings/apps/new?state=${encodeURIComponent(opts.state)}`;
}

/** What GitHub answers to the conversion (docs: "Create a GitHub App from a manifest"); fields we use. */
const conversion = z.looseObject({
  id: z.number().int(),
  slug: z.string(),
  html_url: z.url(),
  webhook_secret: z.string().nullable(),
  pem: z.string(),
  client_id: z.string(),
  client_secret: z.string(),
});
export type ManifestConversion = z.infer<typeof conversion>;

/** Exchanges the one-time `code` from the redirect for the new App's id, private key and webhook secret. */
export async function convertManifestCode(code: string, opts: { gheHost?: string } = {}): Promise<ManifestConversion> {
  const baseUrl = githubApiBaseUrl(opts.gheHost);
  // One request with a one-time code: retrying or queueing it behind the write limiter would only delay the error.
  const octokit = new ProbotOctokit({ ...(baseUrl ? { baseUrl } : {}), retry: { enabled: false }, throttle: { enabled: false } });
  const res = await octokit.request("POST /app-manifests/{code}/conversions", { code });
  const parsed = conversion.safeParse(res.data);
  if (!parsed.success) throw new Error(`GitHub's manifest conversion answer is missing ${parsed.error.issues[0]?.path.join(".")}`);
  return parsed.data;
}

/** The settings to write to .env for a converted App. */
export function credentialsEnv(app: ManifestConversion): Record<string, string> {
  if (!app.webhook_secret) throw new Error("GitHub created the App without a webhook secret; set one on its settings page and put it in WEBHOOK_SECRET");
  return { APP_ID: String(app.id), PRIVATE_KEY: app.pem, WEBHOOK_SECRET: app.webhook_secret };
}
