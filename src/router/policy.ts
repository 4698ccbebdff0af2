// The routing policy: its zod schema, loading from YAML with errors that name file, path and line, and its version hash.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import canonicalize from "canonicalize";
import { isNode, LineCounter, parseDocument, type Document } from "yaml";
import { z } from "zod";

export const roles = ["planner", "builder", "verifier"] as const;
export const runTypes = ["spec_change", "impl_change", "conformance_update", "release_prep", "watcher_investigation"] as const;
export const dataClasses = ["secrets", "pii", "customer_data", "source_code"] as const;

export const Role = z.enum(roles);
export const RunType = z.enum(runTypes);
export const DataClass = z.enum(dataClasses);
export type Role = z.infer<typeof Role>;
export type RunType = z.infer<typeof RunType>;
export type DataClass = z.infer<typeof DataClass>;

const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, { error: "must be a name of letters, digits, '.', '_' or '-'" });
const usd = z.number({ error: "must be a number of US dollars" }).nonnegative();
const count = z.number({ error: "must be a whole number" }).int().positive();

/**
 * Where a provider's secret comes from. The policy names it; the composition root resolves it.
 * The secret itself never appears in the policy.
 */
export const CredentialRef = z.union([
  z.strictObject({ env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, { error: "must be an environment variable NAME such as OPENAI_API_KEY" }) }),
  z.strictObject({ secrets_manager: z.string().min(1).describe("AWS Secrets Manager secret id or ARN") }),
]);
export type CredentialRef = z.infer<typeof CredentialRef>;

const ScriptedProvider = z.strictObject({
  kind: z.literal("scripted"),
  file: z.string().min(1).describe("YAML or JSON file of scripted responses, relative to the policy file"),
});
const BedrockProvider = z.strictObject({
  kind: z.literal("bedrock"),
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, { error: "must be an AWS region such as us-east-1" }),
  endpoint: z.url().optional().describe("Override of the Bedrock runtime endpoint (VPC endpoint); credentials come from the default AWS chain (task role, profile)"),
});
const OpenAiCompatibleProvider = z.strictObject({
  kind: z.literal("openai_compatible"),
  base_url: z.url({ error: "must be an absolute URL such as https://api.openai.com/v1" }),
  api_key: CredentialRef.optional().describe("Unset for servers without auth (local vLLM, Ollama)"),
  azure: z
    .strictObject({ api_version: z.string().min(1) })
    .optional()
    .describe("Azure OpenAI: api-key header, /openai/deployments/{model id}/chat/completions?api-version=..."),
});
const AnthropicProvider = z.strictObject({
  kind: z.literal("anthropic"),
  base_url: z.url().default("https://api.anthropic.com"),
  api_key: CredentialRef,
  anthropic_version: z.string().default("2023-06-01"),
});
export const ProviderConfig = z.discriminatedUnion("kind", [ScriptedProvider, BedrockProvider, OpenAiCompatibleProvider, AnthropicProvider]);
export type ProviderConfig = z.infer<typeof ProviderConfig>;

export const ModelConfig = z.strictObject({
  provider: name,
  id: z.string().min(1).describe("The provider's model id (Bedrock model or inference profile id, Azure deployment name)"),
  price_per_1m: z.strictObject({ input: usd, output: usd }).describe("USD per 1M input / output tokens"),
});
export type ModelConfig = z.infer<typeof ModelConfig>;

export const SensitivityLevel = z.strictObject({
  approved_providers: z.array(name).describe("Providers a repo at this level may send prompts to; empty refuses every call"),
  disallowed_data_classes: z.array(DataClass).default([]).describe("A prompt whose input contains one of these is refused, even after redaction"),
});

const oneOrMany = <T extends z.ZodType>(t: T) => z.union([t, z.array(t).min(1)]).optional();

export const Rule = z.strictObject({
  name: name.optional(),
  when: z
    .strictObject({
      role: oneOrMany(Role),
      run_type: oneOrMany(RunType),
      repo: oneOrMany(z.string().min(1)).describe("Glob(s) over owner/name, e.g. acme/* or gitlab.example.com/group/**"),
      sensitivity: oneOrMany(name),
    })
    .default({}),
  model: name,
  fallbacks: z.array(name).default([]),
  max_output_tokens: count.optional(),
});
export type Rule = z.infer<typeof Rule>;

export const Limits = z.strictObject({
  max_tokens_per_call: count.default(32_000).describe("Prompt estimate + max output tokens"),
  max_output_tokens: count.default(4_096).describe("Default max output tokens when a rule or request sets none"),
  max_cost_per_call_usd: usd.default(1),
  max_cost_per_run_usd: usd.default(10),
  max_cost_per_role_usd: z.partialRecord(Role, usd).default({}).describe("Per run and role"),
  max_calls_per_run: count.default(200),
});
export type Limits = z.infer<typeof Limits>;

export const RetryPolicy = z.strictObject({
  max_attempts: count.default(3).describe("Attempts per model, including the first"),
  base_delay_ms: z.number().int().nonnegative().default(250),
  max_delay_ms: z.number().int().nonnegative().default(8_000),
});
export type RetryPolicy = z.infer<typeof RetryPolicy>;

export const RedactionPattern = z.strictObject({
  name: name.describe("Shown in placeholders: [REDACTED:<name>:1]"),
  regex: z.string().min(1).refine(validRegex, { error: "must be a valid JavaScript regular expression" }),
  data_class: DataClass.default("customer_data"),
  redact: z.boolean().default(true).describe("false: only detect the data class"),
});
export type RedactionPattern = z.infer<typeof RedactionPattern>;

export const RoutingPolicy = z.strictObject({
  version: z.literal(1, { error: "must be 1 (the only policy format so far)" }),
  providers: z.record(name, ProviderConfig),
  models: z.record(name, ModelConfig),
  sensitivity: z.strictObject({
    default: name.describe("Level of a repo no entry in repos matches"),
    levels: z.record(name, SensitivityLevel),
    repos: z
      .array(z.strictObject({ match: z.string().min(1), level: name }))
      .default([])
      .describe("First match wins; globs over owner/name"),
  }),
  rules: z.array(Rule).min(1, { error: "needs at least one rule" }),
  limits: Limits.default(Limits.parse({})),
  retry: RetryPolicy.default(RetryPolicy.parse({})),
  redaction: z.strictObject({ patterns: z.array(RedactionPattern).default([]) }).default({ patterns: [] }),
});
export type RoutingPolicy = z.infer<typeof RoutingPolicy>;

function validRegex(source: string): boolean {
  try {
    new RegExp(source, "g");
    return true;
  } catch {
    return false;
  }
}

/** A policy that parsed, with the version hash every model call records. */
export interface LoadedPolicy {
  readonly policy: RoutingPolicy;
  /** sha256 (hex) of the RFC 8785 canonical JSON of the validated policy. */
  readonly version: string;
  /** The file it came from; relative paths inside the policy resolve against its directory. */
  readonly file: string;
}

/** Every problem in a policy file, each naming file, line and path. */
export class PolicyError extends Error {
  constructor(
    readonly file: string,
    readonly problems: readonly string[],
    /** Why the file could not be read at all (its errno code: ENOENT, EACCES, EISDIR), as opposed to read and found invalid. */
    readonly readError?: string,
  ) {
    super(readError ? problems.join("\n") : `${path.basename(file)} is invalid:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "PolicyError";
  }
}

export function loadPolicyFile(file: string): LoadedPolicy {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "EIO";
    const reason = code === "ENOENT" ? "no such file" : (err as Error).message;
    throw new PolicyError(file, [`${file}: ${reason}; set ROUTING_POLICY_PATH or create the file (see docs/routing-policy.md)`], code);
  }
  return parsePolicy(text, file);
}

export function parsePolicy(text: string, file = "routing-policy.yaml"): LoadedPolicy {
  const shown = path.basename(file);
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new PolicyError(
      file,
      doc.errors.map((e) => {
        const { line, col } = lineCounter.linePos(e.pos[0]);
        return `${shown}:${line}:${col}: YAML syntax: ${e.message.split("\n")[0]}`;
      }),
    );
  }
  const raw: unknown = doc.toJS();
  const parsed = RoutingPolicy.safeParse(raw, { reportInput: true });
  if (!parsed.success) {
    throw new PolicyError(
      file,
      parsed.error.issues.map((i) => {
        // An unknown key is best pointed at by its own line, not its parent object's.
        const at = i.code === "unrecognized_keys" ? [...i.path, i.keys[0] ?? ""] : i.path;
        return `${shown}:${lineOf(doc, lineCounter, at)}: ${pathText(i.path)} ${describeIssue(i)}`;
      }),
    );
  }
  const refs = referenceProblems(parsed.data);
  if (refs.length > 0) throw new PolicyError(file, refs.map((r) => `${shown}:${lineOf(doc, lineCounter, r.path)}: ${pathText(r.path)} ${r.message}`));
  return { policy: parsed.data, version: policyVersion(parsed.data), file: path.resolve(file) };
}

export function policyVersion(policy: RoutingPolicy): string {
  return createHash("sha256").update(canonicalize(policy) ?? "").digest("hex");
}

type IssuePath = readonly PropertyKey[];

/** Names that point at something the policy must define (checked after the schema, with their lines). */
function referenceProblems(p: RoutingPolicy): Array<{ path: IssuePath; message: string }> {
  const out: Array<{ path: IssuePath; message: string }> = [];
  const providers = Object.keys(p.providers);
  const models = Object.keys(p.models);
  const levels = Object.keys(p.sensitivity.levels);
  const known = (kind: string, names: string[], value: string) =>
    `names unknown ${kind} ${JSON.stringify(value)}; known: ${names.length ? names.join(", ") : "(none)"}`;
  for (const [m, model] of Object.entries(p.models))
    if (!p.providers[model.provider]) out.push({ path: ["models", m, "provider"], message: known("provider", providers, model.provider) });
  for (const [l, level] of Object.entries(p.sensitivity.levels))
    level.approved_providers.forEach((pr, i) => {
      if (!p.providers[pr]) out.push({ path: ["sensitivity", "levels", l, "approved_providers", i], message: known("provider", providers, pr) });
    });
  if (!p.sensitivity.levels[p.sensitivity.default])
    out.push({ path: ["sensitivity", "default"], message: known("sensitivity level", levels, p.sensitivity.default) });
  p.sensitivity.repos.forEach((r, i) => {
    if (!p.sensitivity.levels[r.level]) out.push({ path: ["sensitivity", "repos", i, "level"], message: known("sensitivity level", levels, r.level) });
  });
  p.rules.forEach((rule, i) => {
    if (!p.models[rule.model]) out.push({ path: ["rules", i, "model"], message: known("model", models, rule.model) });
    rule.fallbacks.forEach((f, j) => {
      if (!p.models[f]) out.push({ path: ["rules", i, "fallbacks", j], message: known("model", models, f) });
    });
    const s = rule.when.sensitivity;
    (s === undefined ? [] : Array.isArray(s) ? s : [s]).forEach((lvl) => {
      if (!p.sensitivity.levels[lvl]) out.push({ path: ["rules", i, "when", "sensitivity"], message: known("sensitivity level", levels, lvl) });
    });
  });
  return out;
}

/** `rules[2].max_cost_usd` from ["rules", 2, "max_cost_usd"]. */
export function pathText(p: IssuePath): string {
  if (p.length === 0) return "(top level)";
  return p.map((k, i) => (typeof k === "number" ? `[${k}]` : i === 0 ? String(k) : `.${String(k)}`)).join("");
}

function describeIssue(i: z.core.$ZodIssue): string {
  const got = "input" in i && i.input !== undefined ? `, got ${JSON.stringify(i.input)}` : "";
  if (i.code === "invalid_type" && i.input === undefined) return `is required (${i.message.replace(/^Invalid input: /, "")})`;
  if (i.code === "unrecognized_keys") return `has unknown key(s) ${i.keys.map((k) => JSON.stringify(k)).join(", ")}; check the spelling against docs/routing-policy.md`;
  // "one or many": the single-value branch says what was expected.
  if (i.code === "invalid_union" && i.errors[0]?.[0]) return describeIssue({ ...i.errors[0][0], input: i.input } as z.core.$ZodIssue);
  return `${i.message.replace(/^Invalid input: /, "")}${got.length < 120 ? got : ""}`;
}

/** The line of the deepest node on the issue's path that exists in the YAML (a missing key points at its parent). */
function lineOf(doc: Document, lc: LineCounter, p: IssuePath): number {
  for (let n = p.length; n >= 0; n--) {
    const node: unknown = n === 0 ? doc.contents : doc.getIn(p.slice(0, n) as unknown[], true);
    if (isNode(node) && node.range) return lc.linePos(node.range[0]).line;
  }
  return 1;
}

/** JSON Schema of the policy file (what editors complete against); docs/routing-policy.schema.json is this, checked by a test. */
export function policyJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(RoutingPolicy, { io: "input", unrepresentable: "any" }),
    $id: "https://scintilla.dev/schemas/routing-policy.schema.json",
    title: "Scintilla Orchestrator routing policy",
  };
}
