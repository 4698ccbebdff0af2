// The shape of a workflow definition (a run type's steps as data), validated with zod; both engines read only this.
import { z } from "zod";
import { RunType } from "../ledger/port.js";

/** The activities a step can run. Each has one implementation shared by both engines. */
export const ActivityName = z.enum(["plan", "build", "verify", "publish", "await_approvals", "report"]);
export type ActivityName = z.infer<typeof ActivityName>;

/**
 * How an activity is executed: `agent` steps run an agent in a workspace (a child process
 * locally, an ECS Fargate task on AWS); `approval` parks the run until a human decides;
 * `task` is any other activity (a Lambda invocation on AWS).
 */
export type ActivityKind = "agent" | "task" | "approval";
export const activityKinds: Readonly<Record<ActivityName, ActivityKind>> = {
  plan: "agent",
  build: "agent",
  verify: "task",
  publish: "task",
  await_approvals: "approval",
  report: "task",
};

/** Error names follow Amazon States Language: `States.ALL`, `States.Timeout`, `States.TaskFailed` or our own dotted names. */
export const ErrorName = z.string().regex(/^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$/, {
  error: "must be an error name such as Forge.RateLimited or States.Timeout",
});

/** Errors that ASL reserves; only these `States.*` names may appear in a definition. */
const reservedErrors = new Set(["States.ALL", "States.Timeout", "States.TaskFailed"]);

const errorList = z
  .array(ErrorName)
  .min(1)
  .superRefine((names, ctx) => {
    for (const [i, n] of names.entries()) {
      if (n.startsWith("States.") && !reservedErrors.has(n))
        ctx.addIssue({ code: "custom", path: [i], message: `${n} is not an error Step Functions raises; use States.ALL, States.Timeout or States.TaskFailed` });
    }
    // ASL: a wildcard must stand alone, otherwise the other names are dead.
    if (names.includes("States.ALL") && names.length > 1)
      ctx.addIssue({ code: "custom", message: "States.ALL matches every error, so it must be the only name in its list" });
    if (new Set(names).size !== names.length) ctx.addIssue({ code: "custom", message: "lists an error name twice" });
  });

export const RetryPolicy = z
  .object({
    /** Attempts in total, the first one included (ASL MaxAttempts counts only the retries: this minus one). */
    max_attempts: z.number().int().min(1).max(20),
    backoff: z
      .object({
        /** Wait before the first retry; ASL IntervalSeconds is a whole number of seconds ≥ 1. */
        initial_seconds: z.number().int().min(1).max(3600),
        /** Each further retry waits `rate` times longer (ASL BackoffRate). */
        rate: z.number().min(1).max(10),
        /** No wait is longer than this (ASL MaxDelaySeconds). */
        max_seconds: z.number().int().min(1).max(86_400),
      })
      .strict(),
    /** Only these errors are retried; others go straight to `catch`. */
    retryable_errors: errorList,
  })
  .strict();
export type RetryPolicy = z.infer<typeof RetryPolicy>;

const StepId = z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, { error: "must be lower_snake_case, e.g. plan or report_failure" });

export const StepDefinition = z
  .object({
    id: StepId,
    activity: ActivityName,
    /** A step attempt longer than this fails with States.Timeout (ASL TimeoutSeconds; 1 year at most). */
    timeout_seconds: z.number().int().min(1).max(31_536_000),
    retry: RetryPolicy.optional(),
    /** Errors (after retries) that send the run to the failure step; anything else fails the run without a report. */
    catch: errorList.default(["States.ALL"]),
  })
  .strict();
export type StepDefinition = z.infer<typeof StepDefinition>;

const FailureStep = z
  .object({
    id: StepId,
    activity: z.literal("report"),
    timeout_seconds: z.number().int().min(1).max(86_400),
    retry: RetryPolicy.optional(),
  })
  .strict();
export type FailureStep = z.infer<typeof FailureStep>;

export const WorkflowDefinition = z
  .object({
    /** The state machine's name, e.g. ImplementationRun. */
    name: z.string().regex(/^[A-Z][A-Za-z0-9]*Run$/, { error: "must be PascalCase ending in Run, e.g. ImplementationRun" }),
    run_type: RunType,
    /** Bump on every change to the steps; runs record the version (and digest) they started with. */
    version: z.number().int().min(1),
    description: z.string().min(1),
    /** Executed in order; a run succeeds when the last one finishes. */
    steps: z.array(StepDefinition).min(1),
    /** Runs once when a step's error is caught: reports the failure; the run then ends `failed`. */
    on_failure: FailureStep,
  })
  .strict()
  .superRefine((def, ctx) => {
    const seen = new Set<string>();
    for (const [i, s] of def.steps.entries()) {
      if (seen.has(s.id)) ctx.addIssue({ code: "custom", path: ["steps", i, "id"], message: `step id ${s.id} is used twice` });
      seen.add(s.id);
    }
    if (seen.has(def.on_failure.id))
      ctx.addIssue({ code: "custom", path: ["on_failure", "id"], message: `${def.on_failure.id} is also a step id; name the failure step differently` });
  });
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
