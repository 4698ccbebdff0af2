// The model router: policy → redaction → data-class check → budget reservation → provider call with retries and fallbacks → settle → record.
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { backoffDelay } from "./backoff.js";
import type { BudgetStore } from "./budgets/port.js";
import { decideRoute, type RouteCandidate, type RouteDecision, type RouteQuery } from "./decision.js";
import type { KillSwitch } from "./kill-switch.js";
import type { DataClass, LoadedPolicy, ModelConfig, Role, RunType } from "./policy.js";
import { estimateTextTokens, estimateTokens, ProviderError, type ChatMessage, type FinishReason, type Usage } from "./providers/port.js";
import type { ProviderRegistry } from "./providers/registry.js";
import type { ModelCallRecord, ModelCallRecorder } from "./recorder.js";
import type { Redacted, Redactor } from "./redaction/redactor.js";

export interface ModelCallRequest {
  readonly runId: string;
  readonly role: Role;
  readonly runType: RunType;
  readonly repo: string;
  readonly sensitivity?: string;
  readonly messages: readonly ChatMessage[];
  readonly maxTokens?: number;
  readonly temperature?: number;
  /** A policy model name to try first; it must be one the route allows. */
  readonly model?: string;
  /** Classes the caller knows the input has (e.g. source_code for a diff), on top of those detected. */
  readonly dataClasses?: readonly DataClass[];
  /** Who called: "gateway" or a step name; kept on the ledger entry. */
  readonly via?: string;
  readonly signal?: AbortSignal;
}

export interface ModelCallResult {
  readonly text: string;
  readonly finishReason: FinishReason;
  readonly usage: Usage;
  readonly model: string;
  readonly provider: string;
  readonly costUsd: number;
  readonly redactions: Readonly<Record<string, number>>;
  readonly policyVersion: string;
}

export type RouterStreamEvent =
  | { readonly type: "text"; readonly text: string; readonly model: string }
  | { readonly type: "end"; readonly result: Omit<ModelCallResult, "text"> };

export type RefusalCode = "kill_switch" | "no_route" | "data_class" | "too_large" | "budget" | "model_not_allowed";

/** The call was not made: policy, budget or the kill switch said no. `reason` goes into the run report. */
export class ModelCallRefused extends Error {
  constructor(
    readonly code: RefusalCode,
    readonly reason: string,
  ) {
    super(`model call refused (${code}): ${reason}`);
    this.name = "ModelCallRefused";
  }
}

/** Every model in the route failed; `attempts` says how, one line per attempt. */
export class ModelCallFailed extends Error {
  constructor(readonly attempts: readonly string[]) {
    super(`every model in the route failed: ${attempts.join("; ")}`);
    this.name = "ModelCallFailed";
  }
}

/** The parts that change together when the policy is (re)loaded. */
export interface RouterPolicy {
  readonly loaded: LoadedPolicy;
  readonly providers: ProviderRegistry;
  readonly redactor: Redactor;
}

export interface RouterDeps {
  readonly policy: () => RouterPolicy;
  readonly budgets: BudgetStore;
  readonly recorder: ModelCallRecorder;
  readonly killSwitch: KillSwitch;
  readonly sleep?: (ms: number) => Promise<unknown>;
  readonly random?: () => number;
}

interface Prepared {
  readonly req: ModelCallRequest;
  readonly state: RouterPolicy;
  readonly decision: Extract<RouteDecision, { allowed: true }>;
  readonly chain: readonly RouteCandidate[];
  readonly messages: ChatMessage[];
  readonly promptTokens: number;
  readonly maxTokens: number;
  readonly redactions: Record<string, number>;
  readonly dataClasses: DataClass[];
}

export function callCostUsd(model: ModelConfig, inputTokens: number, outputTokens: number): number {
  return (inputTokens * model.price_per_1m.input + outputTokens * model.price_per_1m.output) / 1_000_000;
}

/** Output tokens a call may ask for so that its worst case stays within the per-call cost limit. */
function affordableOutput(model: ModelConfig, promptTokens: number, wanted: number, maxCostUsd: number): number {
  const { input, output } = model.price_per_1m;
  const left = maxCostUsd * 1_000_000 - promptTokens * input;
  if (left < 0) return 0;
  return output === 0 ? wanted : Math.min(wanted, Math.floor(left / output));
}

export class ModelRouter {
  private readonly sleep: (ms: number) => Promise<unknown>;
  private readonly random: () => number;

  constructor(private readonly deps: RouterDeps) {
    this.sleep = deps.sleep ?? ((ms) => sleep(ms));
    this.random = deps.random ?? Math.random;
  }

  /** The route a query gets under the current policy (for `/v1/models` and `orchestrator route`). */
  route(q: RouteQuery): RouteDecision {
    return decideRoute(this.deps.policy().loaded, q);
  }

  /**
   * Redacts text for a run with the same rules and placeholder numbering as its prompts: for
   * agent inputs and comments we post, which must pass redaction too.
   */
  redact(runId: string, text: string): Promise<Redacted> {
    return this.deps.policy().redactor.redact(runId, text);
  }

  get policyVersion(): string {
    return this.deps.policy().loaded.version;
  }

  async complete(req: ModelCallRequest): Promise<ModelCallResult> {
    let text = "";
    for await (const ev of this.execute(req, false)) {
      if (ev.type === "text") text += ev.text;
      else return { ...ev.result, text };
    }
    throw new Error("model call ended without a result");
  }

  /** Text as it arrives, then one `end` event. Refusals and failures before the first text throw from the first `next()`. */
  stream(req: ModelCallRequest): AsyncGenerator<RouterStreamEvent> {
    return this.execute(req, true);
  }

  private async *execute(req: ModelCallRequest, streaming: boolean): AsyncGenerator<RouterStreamEvent> {
    const p = await this.prepare(req, streaming);
    const { loaded, providers } = p.state;
    const limits = loaded.policy.limits;
    const retry = loaded.policy.retry;
    const failures: string[] = [];
    const refusals: string[] = [];
    for (const cand of p.chain) {
      const provider = providers.get(cand.model.provider);
      // The output allowance shrinks to what max_cost_per_call_usd pays for at this model's price.
      const maxTokens = affordableOutput(cand.model, p.promptTokens, p.maxTokens, limits.max_cost_per_call_usd);
      if (maxTokens < 1) {
        const reason = `${cand.name}: the prompt alone costs more than max_cost_per_call_usd $${limits.max_cost_per_call_usd}`;
        await this.record(req.runId, { ...this.baseRecord(p, cand, 1, streaming), outcome: "refused", error: reason });
        refusals.push(reason);
        continue;
      }
      const estimate = callCostUsd(cand.model, p.promptTokens, maxTokens);
      for (let attempt = 1; attempt <= retry.max_attempts; attempt++) {
        const base = this.baseRecord(p, cand, attempt, streaming);
        const reservation = await this.deps.budgets.reserve({
          runId: req.runId,
          role: req.role,
          tokens: p.promptTokens + maxTokens,
          costUsd: estimate,
          limits: { maxCostPerRunUsd: limits.max_cost_per_run_usd, maxCostPerRoleUsd: limits.max_cost_per_role_usd[req.role], maxCallsPerRun: limits.max_calls_per_run },
        });
        if (!reservation.ok) {
          await this.record(req.runId, { ...base, outcome: "refused", error: reservation.reason });
          throw new ModelCallRefused("budget", reservation.reason);
        }
        const started = performance.now();
        let emitted = false;
        /** Text handed to the caller in this attempt, which the provider bills even if the call stops. */
        let streamed = 0;
        let closed = false;
        /**
         * Ends the attempt, once: settles the reservation at what the provider bills (`used`; nothing
         * for a failed call) and records the `model_call` entry. Returns the cost.
         */
        const finish = async (used: Usage | null, outcome: Pick<ModelCallRecord, "outcome" | "error">): Promise<number> => {
          closed = true;
          const cost = used ? callCostUsd(cand.model, used.inputTokens, used.outputTokens) : 0;
          await this.deps.budgets.settle(reservation.id, { tokens: used ? used.inputTokens + used.outputTokens : 0, costUsd: cost });
          const billed = used ? { input_tokens: used.inputTokens, output_tokens: used.outputTokens, cost_usd: cost } : {};
          await this.record(req.runId, { ...base, ...billed, latency_ms: elapsed(started), ...outcome });
          return cost;
        };
        /** An attempt its caller stopped: the provider still bills the prompt and what it generated so far. */
        const stopped = (error: string) => finish({ inputTokens: p.promptTokens, outputTokens: estimateTextTokens(streamed) }, { outcome: "aborted", error });
        try {
          if (!provider) throw new ProviderError(cand.model.provider, "unknown_provider", `provider ${cand.model.provider} is not configured`, false);
          const modelReq = { modelId: cand.model.id, messages: p.messages, maxTokens, temperature: req.temperature, signal: req.signal };
          let finishReason: FinishReason = "stop";
          let usage: Usage = { inputTokens: 0, outputTokens: 0 };
          if (streaming) {
            for await (const ev of provider.stream(modelReq)) {
              if (ev.type === "text") {
                emitted = true;
                streamed += ev.text.length;
                yield { type: "text", text: ev.text, model: cand.name };
              } else ({ finishReason, usage } = ev);
            }
          } else {
            const r = await provider.complete(modelReq);
            ({ finishReason, usage } = r);
            // Handed over whole: a caller that stops right after it still pays for all of it.
            streamed += r.text.length;
            yield { type: "text", text: r.text, model: cand.name };
          }
          const cost = await finish(usage, { outcome: "ok" });
          yield {
            type: "end",
            result: { finishReason, usage, model: cand.name, provider: cand.model.provider, costUsd: cost, redactions: p.redactions, policyVersion: loaded.version },
          };
          return;
        } catch (err) {
          // The call succeeded and recording it failed (settle or ledger): that failure is the caller's,
          // not a reason to call again, or to fall back and pay twice.
          if (closed) throw err;
          if (req.signal?.aborted) {
            // The caller hung up (the gateway's client closed its connection): no retry, no fallback.
            await stopped("client_closed");
            throw new ModelCallFailed([...failures, `${cand.name} attempt ${attempt}: the caller went away`]);
          }
          const e =
            err instanceof ProviderError
              ? err
              : new ProviderError(cand.model.provider, "provider_fault", `${cand.model.provider}: ${err instanceof Error ? err.message : String(err)}`, false);
          const throttled = e.status === 429 || /thrott|rate_limit|overloaded/i.test(e.code);
          // Providers do not bill failed calls: the reservation is released.
          await finish(null, { outcome: throttled ? "throttled" : "error", error: `${e.code}${e.status ? ` (HTTP ${e.status})` : ""}` });
          failures.push(`${cand.name} attempt ${attempt}: ${e.message}`);
          if (emitted) throw new ModelCallFailed(failures);
          if (!e.retryable || attempt === retry.max_attempts) break;
          const delay = backoffDelay(attempt, retry, e.retryAfterMs, this.random);
          if (delay === undefined) break;
          await this.sleep(delay);
        } finally {
          // The consumer stopped iterating mid-call (`return()` on this generator): settle, never leave it held.
          if (!closed) await stopped("consumer_stopped");
        }
      }
    }
    if (failures.length === 0) throw new ModelCallRefused("budget", refusals.join("; "));
    throw new ModelCallFailed([...failures, ...refusals]);
  }

  /** Everything that can refuse the call before any provider is contacted. */
  private async prepare(req: ModelCallRequest, streaming: boolean): Promise<Prepared> {
    const state = this.deps.policy();
    const { loaded } = state;
    const refuse = async (code: RefusalCode, reason: string, cand?: RouteCandidate, extra: Partial<ModelCallRecord> = {}): Promise<never> => {
      await this.record(req.runId, {
        provider: cand?.model.provider ?? "none",
        model: cand?.name ?? "none",
        model_id: cand?.model.id ?? "none",
        role: req.role,
        attempt: 0,
        input_tokens: 0,
        output_tokens: 0,
        cost_usd: 0,
        latency_ms: 0,
        outcome: "refused",
        error: `${code}: ${reason}`,
        policy_version: loaded.version,
        redactions: {},
        data_classes: [],
        stream: streaming,
        ...(req.via ? { via: req.via } : {}),
        ...extra,
      });
      throw new ModelCallRefused(code, reason);
    };

    const stop = this.deps.killSwitch.engaged;
    if (stop) return refuse("kill_switch", stop);

    const decision = decideRoute(loaded, req);
    if (!decision.allowed) return refuse("no_route", decision.reason);
    let chain = decision.chain;
    if (req.model && req.model !== "auto") {
      const pinned = chain.find((c) => c.name === req.model || c.model.id === req.model);
      if (!pinned) return refuse("model_not_allowed", `model ${req.model} is not allowed for this run and role; allowed: auto, ${chain.map((c) => c.name).join(", ")}`, chain[0]);
      chain = [pinned, ...chain.filter((c) => c !== pinned)];
    }

    // Every prompt passes redaction before anything else sees it.
    const red = await state.redactor.redactAll(req.runId, req.messages.map((m) => m.content));
    const messages = req.messages.map((m, i) => ({ role: m.role, content: red.texts[i]! }));
    const dataClasses = [...new Set([...red.dataClasses, ...(req.dataClasses ?? [])])].sort();
    const level = loaded.policy.sensitivity.levels[decision.sensitivity]!;
    const banned = dataClasses.filter((c) => level.disallowed_data_classes.includes(c));
    if (banned.length > 0) {
      return refuse("data_class", `input contains ${banned.join(", ")}, which sensitivity level ${decision.sensitivity} does not allow to leave`, chain[0], {
        redactions: red.counts,
        data_classes: dataClasses,
      });
    }

    const promptTokens = estimateTokens(messages);
    const limit = loaded.policy.limits.max_tokens_per_call;
    if (promptTokens >= limit) return refuse("too_large", `prompt of ~${promptTokens} tokens reaches max_tokens_per_call ${limit}`, chain[0]);
    const maxTokens = Math.max(1, Math.min(req.maxTokens ?? decision.maxOutputTokens, decision.maxOutputTokens, limit - promptTokens));
    return { req, state, decision, chain, messages, promptTokens, maxTokens, redactions: red.counts, dataClasses };
  }

  private baseRecord(p: Prepared, cand: RouteCandidate, attempt: number, stream: boolean): ModelCallRecord {
    return {
      provider: cand.model.provider,
      model: cand.name,
      model_id: cand.model.id,
      role: p.req.role,
      rule: p.decision.rule,
      attempt,
      input_tokens: 0,
      output_tokens: 0,
      cost_usd: 0,
      latency_ms: 0,
      outcome: "ok",
      policy_version: p.state.loaded.version,
      redactions: p.redactions,
      data_classes: p.dataClasses,
      stream,
      ...(p.req.via ? { via: p.req.via } : {}),
    };
  }

  private record(runId: string, call: ModelCallRecord): Promise<void> {
    return this.deps.recorder.record(runId, call);
  }
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 100) / 100;
}
