// Every setting of the orchestrator, typed and validated in one place; nothing else reads the environment.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { parse as parseDotenv } from "dotenv";
import { z } from "zod";

/** One environment variable: its schema (with default) and the line the README shows for it. */
interface Setting<S extends z.ZodType = z.ZodType> {
  readonly env: string;
  readonly schema: S;
  readonly doc: string;
  /** Shown in the docs instead of the schema's default (e.g. a derived path). */
  readonly shownDefault?: string;
  /** Secrets are never echoed back in error messages or `config show`. */
  readonly secret?: boolean;
}

function setting<S extends z.ZodType>(
  env: string,
  schema: S,
  doc: string,
  extra: { shownDefault?: string; secret?: boolean } = {},
): Setting<S> {
  return { env, schema, doc, ...extra };
}

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const optionalText = z.string().min(1).optional();
const bool = z
  .enum(["true", "false", "1", "0", "yes", "no", "on", "off"], {
    error: "must be true or false",
  })
  .transform((v) => ["true", "1", "yes", "on"].includes(v));
const url = z.url({ error: "must be an absolute URL such as https://example.com" });

/**
 * The settings, grouped by the part of the system they configure. The README's settings
 * table is generated from this object (`orchestrator config docs`), so a new setting is
 * documented by adding it here.
 */
export const settings = {
  server: {
    host: setting("HOST", z.string().min(1).default("127.0.0.1"), "Interface the HTTP server binds to; use 0.0.0.0 in a container."),
    port: setting("PORT", port.default(3000), "TCP port of the HTTP server (0 picks a free port)."),
    publicUrl: setting("PUBLIC_URL", url.optional(), "URL at which forges reach this server; used in links and the GitHub App manifest."),
    bodyLimitBytes: setting("WEBHOOK_BODY_LIMIT", positiveInt.default(1024 * 1024), "Largest webhook body accepted, in bytes; larger bodies get 413 without being read."),
    shutdownTimeoutMs: setting("SHUTDOWN_TIMEOUT_MS", positiveInt.default(10_000), "How long SIGTERM/SIGINT waits for in-flight work before closing stores."),
  },
  log: {
    level: setting("LOG_LEVEL", z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"), "pino log level."),
    format: setting("LOG_FORMAT", z.enum(["auto", "json", "pretty"]).default("auto"), "auto: pretty on a TTY, JSON otherwise."),
  },
  data: {
    dir: setting("DATA_DIR", z.string().min(1).default("./.orchestrator"), "Where the embedded backends keep SQLite files, artifacts and keys."),
    sqliteSynchronous: setting(
      "SQLITE_SYNCHRONOUS",
      z.enum(["FULL", "NORMAL"]).default("FULL"),
      "FULL survives power loss; NORMAL (WAL) survives a process crash but may lose the last commits on power loss.",
    ),
  },
  github: {
    appId: setting("APP_ID", optionalText, "GitHub App id. With PRIVATE_KEY(_PATH) and WEBHOOK_SECRET it turns on POST /api/github/webhooks."),
    privateKey: setting("PRIVATE_KEY", optionalText, "GitHub App private key (PEM; `\\n` escapes allowed).", { secret: true }),
    privateKeyPath: setting("PRIVATE_KEY_PATH", optionalText, "Path to the GitHub App private key PEM file (instead of PRIVATE_KEY)."),
    webhookSecret: setting("WEBHOOK_SECRET", optionalText, "Secret GitHub signs deliveries with (X-Hub-Signature-256).", { secret: true }),
    webhookSecretPrevious: setting(
      "WEBHOOK_SECRET_PREVIOUS",
      optionalText,
      "Old webhook secret still accepted while rotating; remove once GitHub uses the new one.",
      { secret: true },
    ),
    host: setting("GHE_HOST", optionalText, "GitHub Enterprise Server host name; unset for github.com."),
    webhookProxyUrl: setting("WEBHOOK_PROXY_URL", url.optional(), "smee.io channel that relays deliveries to this server during development."),
    botLogin: setting("BOT_LOGIN", optionalText, "Login of our own bot account (e.g. my-app[bot]); its events are always ignored."),
  },
  gitlab: {
    webhookToken: setting("GITLAB_WEBHOOK_TOKEN", optionalText, "Secret token GitLab sends in X-Gitlab-Token; turns on POST /api/gitlab/webhooks.", { secret: true }),
    webhookTokenPrevious: setting("GITLAB_WEBHOOK_TOKEN_PREVIOUS", optionalText, "Old GitLab token still accepted while rotating.", { secret: true }),
    url: setting("GITLAB_URL", url.default("https://gitlab.com"), "Base URL of the GitLab instance."),
  },
  jira: {
    webhookSecret: setting("JIRA_WEBHOOK_SECRET", optionalText, "Jira webhook secret (HMAC X-Hub-Signature) or query token; turns on POST /api/jira/webhooks.", { secret: true }),
    webhookSecretPrevious: setting("JIRA_WEBHOOK_SECRET_PREVIOUS", optionalText, "Old Jira webhook secret still accepted while rotating.", { secret: true }),
    baseUrl: setting("JIRA_BASE_URL", url.optional(), "Base URL of the Jira site, e.g. https://acme.atlassian.net."),
  },
  telemetry: {
    metrics: setting("METRICS_ENABLED", bool.default(true), "Serve Prometheus metrics on GET /metrics."),
  },
} satisfies Record<string, Record<string, Setting>>;

type Settings = typeof settings;
/** The validated configuration: one typed value per setting, grouped like `settings`. */
export type Config = {
  readonly [G in keyof Settings]: {
    readonly [K in keyof Settings[G]]: Settings[G][K] extends Setting<infer S> ? z.output<S> : never;
  };
};

export type Env = Readonly<Record<string, string | undefined>>;

/** Thrown with every problem at once, each naming the variable and how to fix it. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

function allSettings(): Array<[group: string, key: string, s: Setting]> {
  return Object.entries(settings).flatMap(([group, entries]) =>
    Object.entries(entries as Record<string, Setting>).map(([key, s]): [string, string, Setting] => [group, key, s]),
  );
}

/** Reads `.env` in `cwd` (if present) under the real environment, which wins. */
export function readEnv(env: Env = process.env, cwd = process.cwd()): Env {
  const file = path.join(cwd, ".env");
  const fromFile = existsSync(file) ? parseDotenv(readFileSync(file)) : {};
  return { ...fromFile, ...env };
}

/** Validates the environment; throws ConfigError listing every bad setting. */
export function loadConfig(env: Env): Config {
  const problems: string[] = [];
  const out: Record<string, Record<string, unknown>> = {};
  for (const [group, key, s] of allSettings()) {
    const raw = env[s.env];
    // An empty variable means "unset", as in most deploy tools' templates.
    const value = raw === undefined || raw.trim() === "" ? undefined : raw.trim();
    const parsed = s.schema.safeParse(value);
    if (parsed.success) {
      (out[group] ??= {})[key] = parsed.data;
    } else {
      const reason = parsed.error.issues[0]?.message ?? "is invalid";
      const shown = s.secret ? "" : `, got ${JSON.stringify(value)}`;
      problems.push(`${s.env}: ${reason}${shown} (${s.doc})`);
    }
  }
  const config = out as unknown as Config;
  if (problems.length === 0) problems.push(...crossChecks(config));
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** Settings that only make sense together. */
function crossChecks(c: Config): string[] {
  const problems: string[] = [];
  const gh = c.github;
  const anyGithub = gh.appId ?? gh.privateKey ?? gh.privateKeyPath ?? gh.webhookSecret;
  if (anyGithub) {
    if (!gh.appId) problems.push("APP_ID: required when any GitHub App setting is set (find it on the App's settings page).");
    if (!gh.privateKey && !gh.privateKeyPath)
      problems.push("PRIVATE_KEY or PRIVATE_KEY_PATH: required for the GitHub App (generate a private key on the App's settings page).");
    if (gh.privateKey && gh.privateKeyPath) problems.push("PRIVATE_KEY and PRIVATE_KEY_PATH: set only one of them.");
    if (!gh.webhookSecret) problems.push("WEBHOOK_SECRET: required for the GitHub App (the secret set on the App's webhook).");
    if (gh.privateKeyPath && !existsSync(gh.privateKeyPath))
      problems.push(`PRIVATE_KEY_PATH: no file at ${JSON.stringify(gh.privateKeyPath)}; point it at the App's .pem file.`);
  }
  if (gh.webhookSecretPrevious && !gh.webhookSecret)
    problems.push("WEBHOOK_SECRET_PREVIOUS: only meaningful next to WEBHOOK_SECRET; set the new secret too.");
  if (c.gitlab.webhookTokenPrevious && !c.gitlab.webhookToken)
    problems.push("GITLAB_WEBHOOK_TOKEN_PREVIOUS: only meaningful next to GITLAB_WEBHOOK_TOKEN; set the new token too.");
  if (c.jira.webhookSecretPrevious && !c.jira.webhookSecret)
    problems.push("JIRA_WEBHOOK_SECRET_PREVIOUS: only meaningful next to JIRA_WEBHOOK_SECRET; set the new secret too.");
  return problems;
}

/** The GitHub App private key as PEM, from PRIVATE_KEY (with `\n` escapes) or PRIVATE_KEY_PATH. */
export function githubPrivateKey(c: Config): string | undefined {
  if (c.github.privateKey) return c.github.privateKey.replace(/\\n/g, "\n");
  if (c.github.privateKeyPath) return readFileSync(c.github.privateKeyPath, "utf8");
  return undefined;
}

/** Markdown table of every setting, for the README (kept in sync by a test). */
export function settingsTable(): string {
  const rows = allSettings().map(([, , s]) => {
    const def = s.shownDefault ?? defaultOf(s.schema);
    return `| \`${s.env}\` | ${def === undefined ? "—" : `\`${def}\``} | ${s.doc.replace(/\|/g, "\\|")} |`;
  });
  return ["| setting | default | meaning |", "| --- | --- | --- |", ...rows].join("\n");
}

function defaultOf(schema: z.ZodType): string | undefined {
  const parsed = schema.safeParse(undefined);
  return parsed.success && parsed.data !== undefined ? String(parsed.data) : undefined;
}

/** `doc` with the text between `<!-- settings:start -->` and `<!-- settings:end -->` replaced by the table. */
export function withSettingsTable(doc: string): string {
  const re = /<!-- settings:start -->[\s\S]*<!-- settings:end -->/;
  if (!re.test(doc)) throw new Error("no <!-- settings:start --> ... <!-- settings:end --> markers in the file");
  return doc.replace(re, () => `<!-- settings:start -->\n${settingsTable()}\n<!-- settings:end -->`);
}
