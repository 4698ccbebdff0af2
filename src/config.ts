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

const port = z.coerce
  .number({ error: "must be a port number from 0 to 65535" })
  .int({ error: "must be a whole number" })
  .min(0, { error: "must be a port number from 0 to 65535" })
  .max(65535, { error: "must be a port number from 0 to 65535" });
const positiveInt = z.coerce
  .number({ error: "must be a whole number" })
  .int({ error: "must be a whole number" })
  .positive({ error: "must be greater than 0" });
const optionalText = z.string().min(1).optional();
const bool = z
  .enum(["true", "false", "1", "0", "yes", "no", "on", "off"], {
    error: "must be true or false",
  })
  .transform((v) => ["true", "1", "yes", "on"].includes(v));
const url = z.url({ error: "must be an absolute URL such as https://example.com" });
const runTypeNames = ["spec_change", "impl_change", "conformance_update", "release_prep", "watcher_investigation"] as const;

/** `A=x,B=y` → entries, each checked by `value`; an error names the entry and what is expected. */
function keyValueList<T>(what: string, value: (v: string) => { ok: T } | { error: string }) {
  return z.string().transform((raw, ctx) => {
    const out: Record<string, T> = {};
    for (const entry of raw.split(",").map((e) => e.trim()).filter(Boolean)) {
      const eq = entry.indexOf("=");
      const key = eq > 0 ? entry.slice(0, eq).trim() : "";
      const parsed = eq > 0 ? value(entry.slice(eq + 1).trim()) : { error: "expected KEY=VALUE" };
      if (!key || "error" in parsed) {
        ctx.addIssue({ code: "custom", message: `entry "${entry}": ${"error" in parsed ? parsed.error : "empty key"} (format: ${what})` });
        return z.NEVER;
      }
      out[key] = parsed.ok;
    }
    return out;
  });
}
const jiraProjectRepos = keyValueList<{ forge: "github" | "gitlab"; full_path: string }>("PROJ=github:owner/repo,OPS=gitlab:group/project", (v) => {
  const m = /^(github|gitlab):([^\s/]+(?:\/[^\s/]+)+)$/.exec(v);
  if (!m) return { error: `"${v}" must be github:owner/repo or gitlab:group/project` };
  if (m[1] === "github" && m[2]!.split("/").length !== 2) return { error: `"${v}": a GitHub repository is owner/repo` };
  return { ok: { forge: m[1] as "github" | "gitlab", full_path: m[2]! } };
});
const jiraTransitions = keyValueList<(typeof runTypeNames)[number]>("Status Name=run_type,...", (v) =>
  (runTypeNames as readonly string[]).includes(v)
    ? { ok: v as (typeof runTypeNames)[number] }
    : { error: `"${v}" is not a run type (${runTypeNames.join(", ")})` },
);
const commaList = z.string().transform((v) => v.split(",").map((s) => s.trim()).filter(Boolean));

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
    token: setting("GITLAB_TOKEN", optionalText, "GitLab access token (scope api) of the bot user: reads repo config and permissions, posts replies.", { secret: true }),
    botUsername: setting("GITLAB_BOT_USERNAME", optionalText, "Username of our GitLab bot user; its events are always ignored."),
  },
  jira: {
    webhookSecret: setting("JIRA_WEBHOOK_SECRET", optionalText, "Jira webhook secret (HMAC X-Hub-Signature) or query token; turns on POST /api/jira/webhooks.", { secret: true }),
    webhookSecretPrevious: setting("JIRA_WEBHOOK_SECRET_PREVIOUS", optionalText, "Old Jira webhook secret still accepted while rotating.", { secret: true }),
    baseUrl: setting("JIRA_BASE_URL", url.optional(), "Base URL of the Jira site, e.g. https://acme.atlassian.net."),
    email: setting("JIRA_EMAIL", optionalText, "Jira account email for API calls (replies to slash commands); with JIRA_API_TOKEN and JIRA_BASE_URL."),
    apiToken: setting("JIRA_API_TOKEN", optionalText, "Jira API token of JIRA_EMAIL's account.", { secret: true }),
    projectRepos: setting(
      "JIRA_PROJECT_REPOS",
      jiraProjectRepos.default({}),
      "Jira project → repository its runs act on: PROJ=github:owner/repo,OPS=gitlab:group/project.",
      { shownDefault: "" },
    ),
    transitions: setting(
      "JIRA_TRANSITIONS",
      jiraTransitions.default({ "Ready for Agent": "impl_change" }),
      "Jira status → run type started when an issue moves into it (Status=run_type,...); repo config can add more.",
      { shownDefault: "Ready for Agent=impl_change" },
    ),
    commandUsers: setting("JIRA_COMMAND_USERS", commaList.default([]), "Jira accountIds allowed to start runs with slash commands in Jira comments (comma-separated).", { shownDefault: "" }),
  },
  intake: {
    concurrency: setting("INTAKE_CONCURRENCY", positiveInt.default(4), "Deliveries processed at once in the background (forge reads, triggers)."),
    maxAttempts: setting("INTAKE_MAX_ATTEMPTS", positiveInt.default(5), "Attempts to process a delivery before it is parked as failed."),
    retryMs: setting("INTAKE_RETRY_MS", positiveInt.default(2_000), "First retry delay of a failed delivery; doubles per attempt."),
    leaseMs: setting("INTAKE_LEASE_MS", positiveInt.default(300_000), "How long a claimed delivery is held before another worker may take it (crash recovery)."),
  },
  router: {
    policyPath: setting("ROUTING_POLICY_PATH", z.string().min(1).default("./routing-policy.yaml"), "Model routing policy (providers, models, sensitivity, rules, limits); see docs/routing-policy.md."),
    killSwitch: setting("MODEL_KILL_SWITCH", bool.default(false), "When true every model call is refused (the run report shows why)."),
    gatewayTokenSecret: setting(
      "GATEWAY_TOKEN_SECRET",
      z.string().min(32, { error: "must be at least 32 characters" }).optional(),
      "HMAC secret signing model-gateway tokens; unset: a random key kept in DATA_DIR/gateway-token.key.",
      { secret: true },
    ),
    gatewayTokenTtlSeconds: setting("GATEWAY_TOKEN_TTL_S", positiveInt.default(3600), "Lifetime of a run-scoped model-gateway token, in seconds."),
  },
  aws: {
    region: setting("AWS_REGION", optionalText, "AWS region of DynamoDB, S3 and KMS; required when any AWS backend is selected. Credentials come from the AWS SDK's default chain."),
  },
  ledger: {
    backend: setting("LEDGER_BACKEND", z.enum(["sqlite", "dynamodb"]).default("sqlite"), "Run ledger store: sqlite (DATA_DIR/orchestrator.db) or dynamodb (DYNAMODB_TABLE)."),
    dynamodbTable: setting(
      "DYNAMODB_TABLE",
      z.string().regex(/^[A-Za-z0-9_.-]{3,255}$/, { error: "must be 3-255 letters, digits, _ . or -" }).default("scintilla-ledger"),
      "DynamoDB table of the run ledger, which also holds the model budgets (single table; layouts in docs/evidence.md and docs/routing-policy.md).",
    ),
    dynamodbEndpoint: setting("DYNAMODB_ENDPOINT", url.optional(), "DynamoDB endpoint override, e.g. http://127.0.0.1:4567 for a local dynalite."),
    dynamodbCreateTable: setting("DYNAMODB_CREATE_TABLE", bool.default(false), "Create the ledger table and its indexes at start when missing (local servers, first deploys)."),
  },
  artifacts: {
    backend: setting("ARTIFACTS_BACKEND", z.enum(["files", "s3"]).default("files"), "Artifact store: files (DATA_DIR/artifacts) or s3 (S3_BUCKET), keys sha256/<hex>."),
    s3Bucket: setting(
      "S3_BUCKET",
      z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, { error: "must be an S3 bucket name: 3-63 lowercase letters, digits, . or -" }).optional(),
      "S3 bucket of the artifacts (ARTIFACTS_BACKEND=s3).",
    ),
    s3Endpoint: setting("S3_ENDPOINT", url.optional(), "S3 endpoint override, e.g. http://127.0.0.1:4568 for a local s3rver (path-style addressing is used then)."),
    s3KmsKeyId: setting("S3_KMS_KEY_ID", optionalText, "KMS key for SSE-KMS on artifact objects; unset: the bucket's default encryption."),
  },
  evidence: {
    signer: setting("SIGNER", z.enum(["local", "kms"]).default("local"), "Evidence signing key: local (ed25519, created in DATA_DIR/keys on first start) or kms (KMS_SIGNING_KEY_ID)."),
    kmsSigningKeyId: setting("KMS_SIGNING_KEY_ID", optionalText, "KMS key id, ARN or alias of an asymmetric SIGN_VERIFY key, spec ECC_NIST_P256 or ECC_NIST_P384 (SIGNER=kms)."),
    kmsEndpoint: setting("KMS_ENDPOINT", url.optional(), "KMS endpoint override (e.g. a local KMS emulator)."),
  },
  engine: {
    backend: setting(
      "ENGINE",
      z.enum(["embedded", "step-functions"]).default("embedded"),
      "Workflow engine: embedded (durable, in this process, over DATA_DIR/orchestrator.db; needs LEDGER_BACKEND=sqlite) or step-functions (AWS Step Functions Standard; needs LEDGER_BACKEND=dynamodb).",
    ),
    concurrency: setting("ENGINE_CONCURRENCY", positiveInt.default(4), "Embedded engine: step attempts running at once, across every worker on the database."),
    perRepoConcurrency: setting("ENGINE_CONCURRENCY_PER_REPO", positiveInt.default(2), "Embedded engine: step attempts running at once for one repository."),
    leaseMs: setting("ENGINE_LEASE_MS", positiveInt.default(30_000), "Embedded engine: a step attempt whose worker stops renewing its lease this long is taken over by another worker."),
    pollIntervalMs: setting("ENGINE_POLL_INTERVAL_MS", positiveInt.default(1_000), "Embedded engine: how often due retries, expired leases and approval deadlines are looked for."),
    workerId: setting("ENGINE_WORKER_ID", optionalText, "Embedded engine: this worker's name in leases; a restart under the same name takes its leases back at once.", { shownDefault: "<hostname>:<pid>" }),
    stateMachinePrefix: setting(
      "SFN_STATE_MACHINE_PREFIX",
      z.string().regex(/^[A-Za-z0-9_-]{0,40}$/, { error: "must be up to 40 letters, digits, _ or -" }).default("scintilla-"),
      "Step Functions: state machine name prefix; the machine of ImplementationRun is `<prefix>ImplementationRun`.",
    ),
    sfnRoleArn: setting(
      "SFN_ROLE_ARN",
      z.string().regex(/^arn:aws[\w-]*:iam::\d{12}:role\/.+$/, { error: "must be an IAM role ARN, e.g. arn:aws:iam::123456789012:role/orchestrator-sfn" }).optional(),
      "Step Functions: execution role of the state machines (may run the ECS tasks and invoke the activity Lambda).",
    ),
    sfnEndpoint: setting("SFN_ENDPOINT", url.optional(), "Step Functions endpoint override (e.g. a local emulator)."),
    ecsEndpoint: setting("ECS_ENDPOINT", url.optional(), "ECS endpoint override, used by `workflows deploy` to check the task definition."),
    lambdaEndpoint: setting("LAMBDA_ENDPOINT", url.optional(), "Lambda endpoint override, used by `workflows deploy` to check the activity Lambda."),
    ecsCluster: setting("ECS_CLUSTER_ARN", optionalText, "Step Functions: ECS cluster (name or ARN) the agent and gate tasks run on (Fargate)."),
    ecsTaskDefinition: setting(
      "ECS_TASK_DEFINITION_ARN",
      z.string().regex(/^arn:aws[\w-]*:ecs:[\w-]+:\d{12}:task-definition\/[\w-]+:\d+$/, { error: "must be a task definition ARN pinned to a revision, e.g. arn:aws:ecs:eu-west-1:123456789012:task-definition/agent:7" }).optional(),
      "Step Functions: the agent task definition, pinned to a revision so a run never changes image mid-flight.",
    ),
    ecsContainer: setting("ECS_CONTAINER_NAME", z.string().min(1).default("agent"), "Step Functions: name of the agent container in the task definition (receives the run-scoped environment)."),
    ecsSubnets: setting("ECS_SUBNETS", commaList.default([]), "Step Functions: subnets of the agent tasks (comma-separated subnet ids).", { shownDefault: "" }),
    ecsSecurityGroups: setting("ECS_SECURITY_GROUPS", commaList.default([]), "Step Functions: security groups of the agent and gate tasks (comma-separated); `workflows deploy` refuses an empty list, which would mean the VPC's default group.", { shownDefault: "" }),
    ecsAssignPublicIp: setting("ECS_ASSIGN_PUBLIC_IP", bool.default(false), "Step Functions: give agent tasks a public IP (only for subnets without a NAT gateway)."),
    activityLambdaArn: setting(
      "ACTIVITY_LAMBDA_ARN",
      z.string().regex(/^arn:aws[\w-]*:lambda:[\w-]+:\d{12}:function:[\w-]+(:[\w$-]+)?$/, { error: "must be a Lambda function ARN, e.g. arn:aws:lambda:eu-west-1:123456789012:function:orchestrator-activities" }).optional(),
      "Step Functions: the activity-dispatcher Lambda (dist/lambda.js `handler`) that steps outside containers (publish, approvals, report) invoke; its timeout must cover their longest TimeoutSeconds.",
    ),
    taskInputPrefix: setting(
      "TASK_INPUT_PREFIX",
      z.string().regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/[^{}'\\]*)?$/, { error: "must be an s3:// URI without { } ' or \\, e.g. s3://orchestrator-runs/tasks" }).optional(),
      "Step Functions: where agent tasks find their input: `<prefix>/runs/<run_id>/steps/<step>/input.json`.",
    ),
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
  if ((c.jira.email || c.jira.apiToken) && !(c.jira.email && c.jira.apiToken && c.jira.baseUrl))
    problems.push("JIRA_EMAIL, JIRA_API_TOKEN, JIRA_BASE_URL: set all three for Jira replies, or none.");
  if (c.jira.webhookSecretPrevious && !c.jira.webhookSecret)
    problems.push("JIRA_WEBHOOK_SECRET_PREVIOUS: only meaningful next to JIRA_WEBHOOK_SECRET; set the new secret too.");
  problems.push(...awsChecks(c));
  problems.push(...engineChecks(c));
  return problems;
}

/** Engine limits that contradict each other. (Backend pairings are checked when the server builds the engine.) */
function engineChecks(c: Config): string[] {
  const e = c.engine;
  if (e.perRepoConcurrency > e.concurrency) return [`ENGINE_CONCURRENCY_PER_REPO: ${e.perRepoConcurrency} is above ENGINE_CONCURRENCY (${e.concurrency}); lower it.`];
  return [];
}

/** What `ENGINE=step-functions` and `orchestrator workflows deploy` need; empty when all is set. */
export function stepFunctionsProblems(c: Config): string[] {
  const e = c.engine;
  const missing: [unknown, string][] = [
    [e.sfnRoleArn, "SFN_ROLE_ARN: the state machines' execution role ARN"],
    [e.ecsCluster, "ECS_CLUSTER_ARN: the cluster agent tasks run on"],
    [e.ecsTaskDefinition, "ECS_TASK_DEFINITION_ARN: the agent task definition, pinned to a revision"],
    [e.ecsSubnets.length > 0, "ECS_SUBNETS: the agent tasks' subnet ids, comma-separated"],
    [e.activityLambdaArn, "ACTIVITY_LAMBDA_ARN: the activity-dispatcher Lambda's ARN"],
    [e.taskInputPrefix, "TASK_INPUT_PREFIX: the s3:// prefix of agent task inputs"],
  ];
  return missing.filter(([v]) => !v).map(([, what]) => `${what} (required for Step Functions).`);
}

/** Each AWS backend needs its region and resource named. */
function awsChecks(c: Config): string[] {
  const problems: string[] = [];
  const uses = [
    c.ledger.backend === "dynamodb" && "LEDGER_BACKEND=dynamodb",
    c.artifacts.backend === "s3" && "ARTIFACTS_BACKEND=s3",
    c.evidence.signer === "kms" && "SIGNER=kms",
  ].filter(Boolean);
  if (uses.length > 0 && !c.aws.region) problems.push(`AWS_REGION: required by ${uses.join(", ")} (e.g. eu-west-1).`);
  if (c.artifacts.backend === "s3" && !c.artifacts.s3Bucket) problems.push("S3_BUCKET: required by ARTIFACTS_BACKEND=s3 (the bucket that holds the artifacts).");
  if (c.evidence.signer === "kms" && !c.evidence.kmsSigningKeyId)
    problems.push("KMS_SIGNING_KEY_ID: required by SIGNER=kms (an asymmetric ECC_NIST_P256 SIGN_VERIFY key's id, ARN or alias).");
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
