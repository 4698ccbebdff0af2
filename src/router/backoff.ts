// How long to wait before retrying a model call: exponential backoff with full jitter, honouring Retry-After.
import type { RetryPolicy } from "./policy.js";

/**
 * Delay before attempt `attempt + 1` (attempt counts from 1), or undefined when the provider asks
 * for a longer pause than the policy allows: then the next fallback is the better choice.
 */
export function backoffDelay(attempt: number, policy: RetryPolicy, retryAfterMs: number | undefined, random: () => number = Math.random): number | undefined {
  const cap = Math.min(policy.max_delay_ms, policy.base_delay_ms * 2 ** (attempt - 1));
  const jittered = Math.floor(random() * cap);
  if (retryAfterMs === undefined) return jittered;
  if (retryAfterMs > policy.max_delay_ms) return undefined;
  return Math.max(retryAfterMs, jittered);
}
