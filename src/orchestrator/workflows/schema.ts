// The shape of a workflow definition (a run type's steps as data), validated with zod; both engines read only this.
import { RunType } from "../ledger/port.js";
import * as z from "../ledger/zod-mini.js";

/** The activities a step can run. Each has one implementation shared by both engines. */
export const ActivityName = z.enum(["plan", "build", "verify", "publish", "await_approvals", "report"]);
export type ActivityName = z.infer<typeof ActivityName>;

/**
 * How an activity is executed: `agent` steps run an agent in a workspace (a child process
 * locally, an ECS Fargate task on AWS); `gate` runs the deterministic checks in the run's
 * workspace; `approval` parks the run until a human decides; `task` is any other activity
 * (a Lambda invocation on AWS).
 */
export type ActivityKind = "agent" | "gate" | "task" | "approval";
export const activityKinds: Readonly<Record<ActivityName, ActivityKind>> = {
  plan: "agent",
  build: "agent",
  verify: "gate",
  publish: "task",
  await_approvals: "approval",
  report: "task",
};

/**
 * Whether an activity runs in a container next to the run's workspace (ECS on AWS). Agents
 * and gates need that workspace and can outlast Lambda's 15-minute limit. A container's
 * output is its artifacts (recorded in the ledger), not data in the run state.
 */
export function runsInContainer(activity: ActivityName): boolean {
  const kind = activityKinds[activity];
  return kind === "agent" || kind === "gate";
}

/** Error names follow Amazon States Language: `States.ALL`, `States.Timeout`, `States.TaskFailed` or our own dotted names. */
export const ErrorName = z.string().check(
  z.regex(/^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$/, {
    error: "must be an error name such as Forge.RateLimited or States.Timeout",
  }),
);

/** Errors that ASL reserves; only these `States.*` names may appear in a definition. */
const reservedErrors = new Set(["States.ALL", "States.Timeout", "States.TaskFailed"]);

const errorList = z.array(ErrorName).check(
  z.minLength(1),
  z.superRefine((names, ctx) => {
    for (const [i, n] of names.entries()) {
      if (n.startsWith("States.") && !reservedErrors.has(n))
        ctx.addIssue({ code: "custom", path: [i], message: `${n} is not an error Step Functions raises; use States.ALL, States.Timeout or States.TaskFailed` });
    }
    // ASL: a wildcard must stand alone, otherwise the other names are dead.
    if (names.includes("States.ALL") && names.length > 1)
      ctx.addIssue({ code: "custom", message: "States.ALL matches every error, so it must be the only name in its list" });
    if (new Set(names).size !== names.length) ctx.addIssue({ code: "custom", message: "lists an error name twice" });
  }),
);

/** A whole number from `min` to `max`. */
const intIn = (min: number, max: number) => z.int().check(z.minimum(min), z.maximum(max));

export const RetryPolicy = z.strictObject({
  /** Attempts in total, the first one included (ASL MaxAttempts counts only the retries: this minus one). */
  max_attempts: intIn(1, 20),
  backoff: z.strictObject({
    /** Wait before the first retry; ASL IntervalSeconds is a whole number of seconds ≥ 1. */
    initial_seconds: intIn(1, 3600),
    /** Each further retry waits `rate` times longer (ASL BackoffRate). */
    rate: z.number().check(z.minimum(1), z.maximum(10)),
    /** No wait is longer than this (ASL MaxDelaySeconds). */
    max_seconds: intIn(1, 86_400),
  }),
  /** Only these errors are retried; others go straight to `catch`. */
  retryable_errors: errorList,
});
export type RetryPolicy = z.infer<typeof RetryPolicy>;

const StepId = z.string().check(z.regex(/^[a-z][a-z0-9_]{0,62}$/, { error: "must be lower_snake_case, e.g. plan or report_failure" }));

export const StepDefinition = z.strictObject({
  id: StepId,
  activity: ActivityName,
  /** A step attempt longer than this fails with States.Timeout (ASL TimeoutSeconds; 1 year at most). */
  timeout_seconds: intIn(1, 31_536_000),
  retry: z.optional(RetryPolicy),
  /** Errors (after retries) that send the run to the failure step; anything else fails the run without a report. */
  catch: z._default(errorList, ["States.ALL"]),
});
export type StepDefinition = z.infer<typeof StepDefinition>;

const FailureStep = z.strictObject({
  id: StepId,
  activity: z.literal("report"),
  timeout_seconds: intIn(1, 86_400),
  retry: z.optional(RetryPolicy),
});
export type FailureStep = z.infer<typeof FailureStep>;

export const WorkflowDefinition = z
  .strictObject({
    /** The state machine's name, e.g. ImplementationRun. */
    name: z.string().check(z.regex(/^[A-Z][A-Za-z0-9]*Run$/, { error: "must be PascalCase ending in Run, e.g. ImplementationRun" })),
    run_type: RunType,
    /** Bump on every change to the steps; runs record the version (and digest) they started with. */
    version: z.int().check(z.minimum(1)),
    description: z.string().check(z.minLength(1)),
    /** Executed in order; a run succeeds when the last one finishes. */
    steps: z.array(StepDefinition).check(z.minLength(1)),
    /** Runs once when a step's error is caught: reports the failure; the run then ends `failed`. */
    on_failure: FailureStep,
  })
  .check(
    z.superRefine((def, ctx) => {
      const seen = new Set<string>();
      for (const [i, s] of def.steps.entries()) {
        if (seen.has(s.id)) ctx.addIssue({ code: "custom", path: ["steps", i, "id"], message: `step id ${s.id} is used twice` });
        seen.add(s.id);
      }
      if (seen.has(def.on_failure.id))
        ctx.addIssue({ code: "custom", path: ["on_failure", "id"], message: `${def.on_failure.id} is also a step id; name the failure step differently` });
    }),
  );
export type WorkflowDefinition = z.infer<typeof WorkflowDefinition>;
export type WorkflowInput = z.input<typeof WorkflowDefinition>;

/** Validates a definition, naming the definition and the field in the error. */
export function defineWorkflow(input: WorkflowInput): WorkflowDefinition {
  const parsed = WorkflowDefinition.safeParse(input);
  if (parsed.success) return parsed.data;
  const name = typeof input.name === "string" ? input.name : "workflow";
  const problems = parsed.error.issues.map((i) => `${name}: ${i.path.join(".") || "(definition)"} ${i.message}`);
  throw new Error(`invalid workflow definition:\n  ${problems.join("\n  ")}`);
}
