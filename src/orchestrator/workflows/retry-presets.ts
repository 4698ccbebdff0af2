// Retry policies shared by the run types, so the same kind of step backs off the same way in every workflow.
import type { RetryPolicy } from "./schema.js";

/**
 * An agent task that failed is worth one more try; a timeout is not (it would time out again).
 * On AWS a failed ECS task surfaces only as States.TaskFailed (the container's exit code), so
 * the embedded engine matches the same wildcard: every agent error but a timeout.
 */
export const agentRetry: RetryPolicy = {
  max_attempts: 2,
  backoff: { initial_seconds: 30, rate: 2, max_seconds: 300 },
  retryable_errors: ["States.TaskFailed"],
};

/** Gates are deterministic: only the machinery around them (runner lost, timeout) is retried. */
export const gateRetry: RetryPolicy = {
  max_attempts: 2,
  backoff: { initial_seconds: 10, rate: 2, max_seconds: 60 },
  retryable_errors: ["Gate.RunnerLost"],
};

/** Forge and tracker calls hit rate limits and brief outages; each attempt first checks what it already did. */
export const forgeRetry: RetryPolicy = {
  max_attempts: 5,
  backoff: { initial_seconds: 5, rate: 2, max_seconds: 300 },
  retryable_errors: ["Forge.RateLimited", "Forge.Unavailable", "Tracker.Unavailable", "States.Timeout"],
};

/** Step timeouts, in seconds. */
export const minutes = (n: number): number => n * 60;
export const days = (n: number): number => n * 86_400;
