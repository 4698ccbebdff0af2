import { describe, expect, it } from "vitest";
import { backoffDelay } from "../../src/router/backoff.js";

const policy = { max_attempts: 5, base_delay_ms: 200, max_delay_ms: 3_000 };

describe("backoffDelay", () => {
  const cases: Array<[string, number, number | undefined, number, number | undefined]> = [
    ["first retry: jitter over the base delay", 1, undefined, 0.5, 100],
    ["doubles per attempt", 3, undefined, 0.5, 400],
    ["capped at max_delay_ms", 10, undefined, 0.999, 2_997],
    ["full jitter can be zero", 2, undefined, 0, 0],
    ["Retry-After longer than the jitter wins", 1, 1_500, 0.5, 1_500],
    ["jitter longer than Retry-After wins", 4, 100, 0.9, 1_440],
    ["Retry-After beyond max_delay_ms: go to the fallback instead", 1, 10_000, 0.5, undefined],
  ];
  it.each(cases)("%s", (_name, attempt, retryAfter, random, expected) => {
    expect(backoffDelay(attempt, policy, retryAfter, () => random)).toBe(expected);
  });
});
