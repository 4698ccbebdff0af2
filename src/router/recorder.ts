// The ModelCallRecorder port: what the router writes about every model call attempt (never prompt text or secrets).
import { z } from "zod";
import { Role } from "./policy.js";

/** `aborted`: the caller stopped the call midway (a gateway client hung up); tokens and cost are then estimates of what was used. */
export const ModelCallOutcome = z.enum(["ok", "error", "throttled", "refused", "aborted"]);

/** One attempt (or a refusal before any attempt). Counts and numbers only: no prompt, completion or secret. */
export const ModelCallRecord = z.strictObject({
  provider: z.string(),
  /** The policy's model name; `model_id` is the provider's id for it. */
  model: z.string(),
  model_id: z.string(),
  role: Role,
  rule: z.string().optional(),
  attempt: z.number().int().nonnegative(),
  input_tokens: z.number().int().nonnegative(),
  output_tokens: z.number().int().nonnegative(),
  cost_usd: z.number().nonnegative(),
  latency_ms: z.number().nonnegative(),
  outcome: ModelCallOutcome,
  /** Error code and status, or the refusal reason; never the provider's echo of the prompt. */
  error: z.string().optional(),
  policy_version: z.string(),
  /** Secrets redacted from this call's input, by kind. */
  redactions: z.record(z.string(), z.number().int().nonnegative()),
  data_classes: z.array(z.string()),
  stream: z.boolean(),
  /** "gateway" for agent calls through /v1/chat/completions, else the caller's step name. */
  via: z.string().optional(),
});
export type ModelCallRecord = z.infer<typeof ModelCallRecord>;

export interface ModelCallRecorder {
  record(runId: string, call: ModelCallRecord): Promise<void>;
}
