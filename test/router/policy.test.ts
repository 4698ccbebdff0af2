import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { decideRoute } from "../../src/router/decision.js";
import { loadPolicyFile, parsePolicy, PolicyError, policyJsonSchema } from "../../src/router/policy.js";

const root = path.resolve(import.meta.dirname, "../..");

const base = `version: 1
providers:
  scripted: { kind: scripted, file: routing/scripted-responses.yaml }
  bedrock-us: { kind: bedrock, region: us-east-1 }
  openai:
    kind: openai_compatible
    base_url: https://api.openai.com/v1
    api_key: { env: OPENAI_API_KEY }
models:
  demo: { provider: scripted, id: demo, price_per_1m: { input: 0, output: 0 } }
  sonnet: { provider: bedrock-us, id: anthropic.claude-sonnet, price_per_1m: { input: 3, output: 15 } }
  gpt: { provider: openai, id: gpt-4o, price_per_1m: { input: 2.5, output: 10 } }
sensitivity:
  default: internal
  levels:
    public: { approved_providers: [openai, bedrock-us, scripted] }
    internal: { approved_providers: [bedrock-us, scripted], disallowed_data_classes: [customer_data] }
    confidential: { approved_providers: [bedrock-us], disallowed_data_classes: [pii] }
    restricted: { approved_providers: [] }
  repos:
    - { match: "acme/payments-*", level: confidential }
    - { match: "acme/hr", level: restricted }
    - { match: "oss/*", level: public }
rules:
  - name: oss-builder
    when: { role: builder, repo: "oss/*" }
    model: gpt
    fallbacks: [sonnet]
  - name: release
    when: { run_type: [release_prep, conformance_update] }
    model: demo
  - name: builder
    when: { role: builder }
    model: gpt
    fallbacks: [sonnet, demo]
    max_output_tokens: 8000
  - name: default
    model: sonnet
    fallbacks: [demo]
`;

describe("routing policy", () => {
  it("loads the repository's default policy", () => {
    const l = loadPolicyFile(path.join(root, "routing-policy.yaml"));
    expect(l.version).toMatch(/^[0-9a-f]{64}$/);
    expect(Object.keys(l.policy.sensitivity.levels)).toEqual(["public", "internal", "confidential", "restricted"]);
    expect(decideRoute(l, { role: "planner", runType: "spec_change", repo: "acme/app" }).allowed).toBe(true);
  });

  it("policy_version is the hash of the canonical policy: formatting and key order do not change it, content does", () => {
    const a = parsePolicy(base);
    const reordered = parsePolicy(base.replace("version: 1\n", "") + "\nversion: 1\n# a comment\n");
    expect(reordered.version).toBe(a.version);
    expect(parsePolicy(base.replace("input: 3,", "input: 4,")).version).not.toBe(a.version);
  });

  const invalid: Array<[string, string, RegExp]> = [
    ["a wrong type names path, line and value", base.replace("price_per_1m: { input: 3, output: 15 }", 'price_per_1m: { input: "ten", output: 15 }'), /routing-policy\.yaml:11: models\.sonnet\.price_per_1m\.input must be a number of US dollars, got "ten"/],
    ["an unknown provider kind", base.replace("kind: bedrock,", "kind: vertex,"), /routing-policy\.yaml:4: providers\.bedrock-us\.kind/],
    ["a model naming an unknown provider", base.replace("provider: openai, id: gpt-4o", "provider: azure, id: gpt-4o"), /routing-policy\.yaml:12: models\.gpt\.provider names unknown provider "azure"; known: scripted, bedrock-us, openai/],
    ["a rule naming an unknown fallback", base.replace("fallbacks: [sonnet, demo]", "fallbacks: [sonnet, opus]"), /routing-policy\.yaml:35: rules\[2\]\.fallbacks\[1\] names unknown model "opus"/],
    ["an unknown role", base.replace("when: { role: builder }", "when: { role: reviewer }"), /routing-policy\.yaml:33: rules\[2\]\.when\.role Invalid option: expected one of "planner"\|"builder"\|"verifier", got "reviewer"/],
    ["an unknown data class", base.replace("disallowed_data_classes: [pii]", "disallowed_data_classes: [pii, passwords]"), /routing-policy\.yaml:18: sensitivity\.levels\.confidential\.disallowed_data_classes\[1\]/],
    ["a misspelt key", base.replace("  - name: default\n", "  - name: default\n    fallback: [demo]\n"), /routing-policy\.yaml:38: rules\[3\] has unknown key\(s\) "fallback"/],
    ["a secret written into the policy instead of a reference", base.replace("api_key: { env: OPENAI_API_KEY }", "api_key: sk-abc"), /routing-policy\.yaml:8: providers\.openai\.api_key/],
    ["an env reference that is not a variable name", base.replace("{ env: OPENAI_API_KEY }", "{ env: sk-abc }"), /must be an environment variable NAME/],
    ["YAML syntax", base.replace("default: internal", "default: [internal"), /routing-policy\.yaml:\d+:\d+: YAML syntax/],
    ["a bad custom regex", `${base}redaction:\n  patterns:\n    - { name: cust, regex: "([a-z" }\n`, /routing-policy\.yaml:42: redaction\.patterns\[0\]\.regex must be a valid JavaScript regular expression/],
  ];
  it.each(invalid)("rejects %s", (_name, text, expected) => {
    let err: unknown;
    try {
      parsePolicy(text, "/etc/orchestrator/routing-policy.yaml");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PolicyError);
    expect((err as PolicyError).problems.join("\n")).toMatch(expected);
  });

  it("names the file when it does not exist", () => {
    expect(() => loadPolicyFile("/nonexistent/routing-policy.yaml")).toThrow(/no such file; set ROUTING_POLICY_PATH/);
  });

  const routes: Array<[string, Parameters<typeof decideRoute>[1], string[] | RegExp]> = [
    ["builder on an OSS repo gets the OSS rule", { role: "builder", runType: "impl_change", repo: "oss/lib" }, ["gpt", "sonnet"]],
    ["builder elsewhere: OpenAI is not approved for internal, so it is skipped", { role: "builder", runType: "impl_change", repo: "acme/app" }, ["sonnet", "demo"]],
    ["release runs use the scripted model", { role: "planner", runType: "release_prep", repo: "acme/app" }, ["demo"]],
    ["confidential repos keep only Bedrock", { role: "planner", runType: "spec_change", repo: "acme/payments-api" }, ["sonnet"]],
    ["an explicit sensitivity overrides the repo table", { role: "planner", runType: "spec_change", repo: "oss/lib", sensitivity: "confidential" }, ["sonnet"]],
    ["repo globs are case-insensitive", { role: "verifier", runType: "impl_change", repo: "ACME/Payments-Web" }, ["sonnet"]],
    ["restricted repos are refused", { role: "planner", runType: "spec_change", repo: "acme/hr" }, /sensitivity level "restricted" has no approved provider/],
    ["an unknown sensitivity is refused", { role: "planner", runType: "spec_change", repo: "acme/app", sensitivity: "secret" }, /sensitivity level "secret" is not defined/],
    ["no approved model in the chain is refused", { role: "builder", runType: "impl_change", repo: "oss/lib", sensitivity: "confidential" }, ["sonnet"]],
  ];
  it.each(routes)("%s", (_name, q, expected) => {
    const d = decideRoute(parsePolicy(base), q);
    if (expected instanceof RegExp) {
      expect(d.allowed).toBe(false);
      if (!d.allowed) expect(d.reason).toMatch(expected);
    } else {
      expect(d.allowed, JSON.stringify(d)).toBe(true);
      if (d.allowed) expect(d.chain.map((c) => c.name)).toEqual(expected);
    }
  });

  it("refuses when no model of the matching rule is approved, and says which were skipped", () => {
    const text = base.replace("    model: demo\n  - name: builder", "    model: gpt\n  - name: builder");
    const d = decideRoute(parsePolicy(text), { role: "planner", runType: "release_prep", repo: "acme/app" });
    expect(d.allowed).toBe(false);
    if (!d.allowed) {
      expect(d.reason).toMatch(/rule release: none of its models has a provider approved for internal/);
      expect(d.why).toContain("skip gpt: provider openai is not approved for internal");
    }
  });

  it("refuses when no rule matches", () => {
    const text = base.replace(/ {2}- name: default\n[\s\S]*$/, "");
    const d = decideRoute(parsePolicy(text), { role: "verifier", runType: "impl_change", repo: "acme/app" });
    expect(d.allowed).toBe(false);
    if (!d.allowed) expect(d.reason).toMatch(/no rule matches role=verifier run_type=impl_change repo=acme\/app sensitivity=internal/);
  });

  it("caps output tokens by the rule and the per-call limit", () => {
    const d = decideRoute(parsePolicy(base), { role: "builder", runType: "impl_change", repo: "acme/app" });
    expect(d.allowed && d.maxOutputTokens).toBe(8000);
  });

  it("docs/routing-policy.schema.json is the schema generated from zod", () => {
    const onDisk = JSON.parse(readFileSync(path.join(root, "docs/routing-policy.schema.json"), "utf8")) as unknown;
    expect(onDisk, "run: npx tsx src/cli.ts policy schema --write docs/routing-policy.schema.json").toEqual(policyJsonSchema());
  });
});
