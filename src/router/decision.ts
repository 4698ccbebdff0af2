// The routing decision: which model chain a (role, run type, repo, sensitivity) gets under a policy, and why.
import path from "node:path";
import type { LoadedPolicy, ModelConfig, Role, Rule, RunType } from "./policy.js";

export interface RouteQuery {
  readonly role: Role;
  readonly runType: RunType;
  /** owner/name (GitHub) or group/project path (GitLab). */
  readonly repo: string;
  /** Overrides the level the policy's repo table gives. */
  readonly sensitivity?: string;
}

/** One model the call may use, in the order to try. */
export interface RouteCandidate {
  readonly name: string;
  readonly model: ModelConfig;
}

export type RouteDecision =
  | {
      readonly allowed: true;
      readonly sensitivity: string;
      readonly sensitivitySource: string;
      readonly rule: string;
      readonly chain: readonly RouteCandidate[];
      readonly maxOutputTokens: number;
      /** Why each step was taken, for `orchestrator route` and the run report. */
      readonly why: readonly string[];
    }
  | { readonly allowed: false; readonly reason: string; readonly why: readonly string[] };

export function decideRoute(loaded: LoadedPolicy, q: RouteQuery): RouteDecision {
  const p = loaded.policy;
  const why: string[] = [];
  const level = sensitivityOf(loaded, q.repo, q.sensitivity);
  why.push(`sensitivity ${level.name} (${level.source})`);
  const rules = p.sensitivity.levels[level.name];
  if (!rules) return { allowed: false, reason: `sensitivity level "${level.name}" is not defined in the policy`, why };
  if (rules.approved_providers.length === 0)
    return { allowed: false, reason: `sensitivity level "${level.name}" has no approved provider`, why };

  const index = p.rules.findIndex((r) => ruleMatches(r, q, level.name));
  if (index < 0) {
    return {
      allowed: false,
      reason: `no rule matches role=${q.role} run_type=${q.runType} repo=${q.repo} sensitivity=${level.name}`,
      why,
    };
  }
  const rule = p.rules[index]!;
  const ruleName = rule.name ?? `rules[${index}]`;
  why.push(`rule ${ruleName} matches`);

  const chain: RouteCandidate[] = [];
  for (const m of [rule.model, ...rule.fallbacks]) {
    const model = p.models[m];
    if (!model) {
      why.push(`skip ${m}: unknown model`);
      continue;
    }
    if (!p.providers[model.provider]) {
      why.push(`skip ${m}: unknown provider ${model.provider}`);
      continue;
    }
    if (!rules.approved_providers.includes(model.provider)) {
      why.push(`skip ${m}: provider ${model.provider} is not approved for ${level.name}`);
      continue;
    }
    chain.push({ name: m, model });
    why.push(`${chain.length === 1 ? "use" : "fallback"} ${m} (${model.provider}/${model.id})`);
  }
  if (chain.length === 0)
    return { allowed: false, reason: `rule ${ruleName}: none of its models has a provider approved for ${level.name}`, why };
  return {
    allowed: true,
    sensitivity: level.name,
    sensitivitySource: level.source,
    rule: ruleName,
    chain,
    maxOutputTokens: Math.min(rule.max_output_tokens ?? p.limits.max_output_tokens, p.limits.max_tokens_per_call),
    why,
  };
}

export function sensitivityOf(loaded: LoadedPolicy, repo: string, explicit?: string): { name: string; source: string } {
  if (explicit) return { name: explicit, source: "given" };
  const s = loaded.policy.sensitivity;
  const hit = s.repos.find((r) => globMatches(r.match, repo));
  return hit ? { name: hit.level, source: `repo matches ${hit.match}` } : { name: s.default, source: "policy default" };
}

function ruleMatches(rule: Rule, q: RouteQuery, level: string): boolean {
  const w = rule.when;
  return (
    anyOf(w.role, (r) => r === q.role) &&
    anyOf(w.run_type, (t) => t === q.runType) &&
    anyOf(w.repo, (g) => globMatches(g, q.repo)) &&
    anyOf(w.sensitivity, (s) => s === level)
  );
}

/** An absent condition matches everything. */
function anyOf<T>(cond: T | readonly T[] | undefined, test: (v: T) => boolean): boolean {
  if (cond === undefined) return true;
  return (Array.isArray(cond) ? (cond as readonly T[]) : [cond as T]).some(test);
}

function globMatches(glob: string, repo: string): boolean {
  return glob === "*" || glob === "**" || path.posix.matchesGlob(repo.toLowerCase(), glob.toLowerCase());
}
