// The AWS Step Functions backend: runs are Standard executions of the compiled definitions, named by run id.
import { createHash } from "node:crypto";
import {
  CreateStateMachineCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  InvalidToken,
  paginateListStateMachines,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  StartExecutionCommand,
  StopExecutionCommand,
  TaskDoesNotExist,
  TaskTimedOut,
  UpdateStateMachineCommand,
  type CreateStateMachineCommandInput,
  type SFNClient,
  type UpdateStateMachineCommandInput,
} from "@aws-sdk/client-sfn";
import { DescribeTaskDefinitionCommand, type ECSClient } from "@aws-sdk/client-ecs";
import { GetFunctionConfigurationCommand, type LambdaClient } from "@aws-sdk/client-lambda";
import { REJECTED_ERROR } from "../activities/port.js";
import { recorder } from "../activities/dispatcher.js";
import { LedgerConflictError, terminalStatuses, type Ledger, type RunStatus } from "../ledger/port.js";
import type { RunRequest } from "../run-request.js";
import { builtinCatalog, WorkflowCatalog } from "../workflows/index.js";
import { approvalProgress, decisionEffect, type ApprovalProgress } from "../workflows/approvals.js";
import { initialState, runCreatedEntry } from "../workflows/run-state.js";
import type { WorkflowDefinition } from "../workflows/schema.js";
import { compileToAsl, type AslTargets } from "./asl.js";
import { approvalOutput, cancelReason, decisionEntry, rejectionCause, RunNotFoundError, RunStateError, type Decision, type StartResult, type WorkflowEngine } from "./port.js";

/** Where the state machines live: `arn:aws:states:<region>:<account>:stateMachine:<prefix><Name>`. */
export interface StateMachineNaming {
  readonly region: string;
  readonly accountId: string;
  /** Prepended to each workflow name, e.g. `scintilla-` → `scintilla-ImplementationRun`. */
  readonly prefix: string;
}

export function stateMachineName(naming: StateMachineNaming, def: WorkflowDefinition): string {
  return `${naming.prefix}${def.name}`;
}

export function stateMachineArn(naming: StateMachineNaming, def: WorkflowDefinition): string {
  return `arn:aws:states:${naming.region}:${naming.accountId}:stateMachine:${stateMachineName(naming, def)}`;
}

export function executionArn(naming: StateMachineNaming, def: WorkflowDefinition, runId: string): string {
  return `arn:aws:states:${naming.region}:${naming.accountId}:execution:${stateMachineName(naming, def)}:${runId}`;
}

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/**
 * The run id for an idempotency key: `run_` + 26 Crockford base32 digits of the key's sha256
 * (128 bits, a valid ULID). The ledger's conditional create and StartExecution's unique name
 * then both refuse a second run for the same key, with no extra table. Unlike embedded run ids
 * these do not sort by time; listings order by created_at.
 */
export function runIdForKey(key: string): string {
  const bytes = createHash("sha256").update(key).digest().subarray(0, 16);
  let n = BigInt(`0x${bytes.toString("hex")}`);
  let out = "";
  for (let i = 0; i < 26; i++) {
    out = CROCKFORD[Number(n & 31n)]! + out;
    n >>= 5n;
  }
  return `run_${out}`;
}

export interface StepFunctionsEngineOptions {
  readonly sfn: SFNClient;
  /** The shared ledger (DynamoDB in production): runs, approval tokens, transitions. */
  readonly ledger: Ledger;
  readonly naming: StateMachineNaming;
  readonly policyVersion: string;
  readonly catalog?: WorkflowCatalog;
}

export class StepFunctionsEngine implements WorkflowEngine {
  readonly backend = "step-functions" as const;
  private readonly catalog: WorkflowCatalog;

  constructor(private readonly opts: StepFunctionsEngineOptions) {
    this.catalog = opts.catalog ?? builtinCatalog();
  }

  /** `request` is typed data its producer validated (triggers, slash commands, the API), as for the embedded engine. */
  async start(request: RunRequest): Promise<StartResult> {
    const def = this.catalog.forRunType(request.run_type);
    const runId = runIdForKey(request.idempotency_key);
    let created = true;
    try {
      await this.opts.ledger.append([{ runId, expectedSeq: 0, entries: [runCreatedEntry(request, def, this.opts.policyVersion)] }]);
    } catch (err) {
      if (!(err instanceof LedgerConflictError)) throw err;
      created = false;
    }
    // Always attempted: a start that died between the ledger and Step Functions is completed by the retry.
    // The same name with the same input is accepted again by Step Functions; the input is derived from the request.
    try {
      await this.opts.sfn.send(
        new StartExecutionCommand({
          stateMachineArn: stateMachineArn(this.opts.naming, def),
          name: runId,
          input: JSON.stringify(initialState(runId, request, def)),
        }),
      );
    } catch (err) {
      if (!(err instanceof ExecutionAlreadyExists)) throw err;
    }
    return { runId, created };
  }

  async decide(runId: string, decision: Decision): Promise<void> {
    // The decision is appended conditionally on the entries read, so two decisions arriving
    // together cannot both miss each other; only the one completing the checklist resumes the run.
    for (let tries = 1; ; tries++) {
      const entries = await this.opts.ledger.entries(runId);
      if (entries.length === 0) throw new RunNotFoundError(runId);
      const progress = approvalProgress(entries);
      if (!progress?.open || !progress.taskToken) throw new RunStateError(runId, "is not waiting for a decision");
      const effect = decisionEffect(progress, decision);
      if (effect.effect === "invalid") throw new RunStateError(runId, effect.reason);
      try {
        await this.opts.ledger.append([{ runId, expectedSeq: entries.length, entries: [decisionEntry(progress.step, decision)] }]);
      } catch (err) {
        if (err instanceof LedgerConflictError && tries < 5) continue;
        throw err;
      }
      if (effect.effect === "wait") return;
      return this.answer(runId, decision, progress, effect.effect === "resume");
    }
  }

  /** Completes the approval task: success once every item is approved, failure on a rejection. */
  private async answer(runId: string, decision: Decision, progress: ApprovalProgress, approved: boolean): Promise<void> {
    const { step, attempt } = progress;
    const cause = rejectionCause(decision);
    try {
      if (approved) {
        await this.opts.sfn.send(new SendTaskSuccessCommand({ taskToken: progress.taskToken, output: JSON.stringify(approvalOutput(decision, progress.checklist)) }));
      } else {
        await this.opts.sfn.send(new SendTaskFailureCommand({ taskToken: progress.taskToken, error: REJECTED_ERROR, cause }));
      }
    } catch (err) {
      if (err instanceof TaskTimedOut || err instanceof TaskDoesNotExist || err instanceof InvalidToken)
        throw new RunStateError(runId, `its approval step no longer waits (${err.name}); the run has moved on or timed out`);
      throw err;
    }
    const outcome = approved
      ? { type: "step_finished" as const, payload: { step, attempt } }
      : { type: "step_failed" as const, payload: { step, attempt, error: REJECTED_ERROR, message: cause } };
    await recorder(this.opts.ledger, runId)([outcome, { type: "status_changed", payload: { to: "running" } }]);
  }

  async cancel(runId: string, by: { by: string; reason?: string }): Promise<void> {
    const run = await this.opts.ledger.run(runId);
    if (!run) throw new RunNotFoundError(runId);
    if (terminalStatuses.includes(run.status)) throw new RunStateError(runId, `has already ended (${run.status}); nothing to cancel`);
    const def = this.catalog.forRunType(run.run_type);
    const reason = cancelReason(by);
    try {
      await this.opts.sfn.send(new StopExecutionCommand({ executionArn: executionArn(this.opts.naming, def, runId), error: "Run.Cancelled", cause: reason }));
    } catch (err) {
      if (!(err instanceof ExecutionDoesNotExist)) throw err;
    }
    await recorder(this.opts.ledger, runId)([{ type: "status_changed", payload: { to: "cancelled", reason } }]);
  }

  async status(runId: string): Promise<RunStatus | undefined> {
    return (await this.opts.ledger.run(runId))?.status;
  }

  async stop(): Promise<void> {
    // Executions run in AWS; nothing is held in this process.
  }
}

export interface DeployOptions {
  readonly sfn: SFNClient;
  readonly naming: StateMachineNaming;
  readonly roleArn: string;
  readonly targets: AslTargets;
  readonly definitions: readonly WorkflowDefinition[];
  /** Only read which machines exist and return the requests; create and update nothing. */
  readonly dryRun: boolean;
  /** When given, the agent task definition and the activity Lambda are checked to exist before anything is deployed. */
  readonly preflight?: { readonly ecs: ECSClient; readonly lambda: LambdaClient };
}

/** Refuses to deploy machines that would point at a missing or inactive task definition or Lambda. */
async function checkTargets(targets: AslTargets, clients: { ecs: ECSClient; lambda: LambdaClient }): Promise<void> {
  const td = await clients.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: targets.ecs.taskDefinitionArn })).catch((err: Error) => {
    throw new Error(`ECS_TASK_DEFINITION_ARN ${targets.ecs.taskDefinitionArn}: ${err.message}; register it (and pin its revision) first`);
  });
  if (td.taskDefinition?.status !== "ACTIVE")
    throw new Error(`ECS_TASK_DEFINITION_ARN ${targets.ecs.taskDefinitionArn} is ${td.taskDefinition?.status ?? "unknown"}; pin an ACTIVE revision`);
  if (!td.taskDefinition.containerDefinitions?.some((c) => c.name === targets.ecs.containerName))
    throw new Error(`ECS_CONTAINER_NAME ${targets.ecs.containerName}: no such container in ${targets.ecs.taskDefinitionArn}`);
  if (!td.taskDefinition.requiresCompatibilities?.includes("FARGATE"))
    throw new Error(`ECS_TASK_DEFINITION_ARN ${targets.ecs.taskDefinitionArn} is not Fargate-compatible; agent tasks run on Fargate`);
  await clients.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: targets.activityLambdaArn })).catch((err: Error) => {
    throw new Error(`ACTIVITY_LAMBDA_ARN ${targets.activityLambdaArn}: ${err.message}; deploy the activity Lambda (dist/lambda.handler) first`);
  });
}

export type DeployAction =
  | { readonly action: "create"; readonly request: CreateStateMachineCommandInput }
  | { readonly action: "update"; readonly request: UpdateStateMachineCommandInput };

/** Creates the state machines that do not exist and updates the others, one per workflow definition. */
export async function deployStateMachines(opts: DeployOptions): Promise<DeployAction[]> {
  if (opts.preflight) await checkTargets(opts.targets, opts.preflight);
  const existing = new Map<string, string>();
  for await (const page of paginateListStateMachines({ client: opts.sfn }, {}))
    for (const m of page.stateMachines ?? []) if (m.name && m.stateMachineArn) existing.set(m.name, m.stateMachineArn);
  const actions: DeployAction[] = [];
  for (const def of opts.definitions) {
    const name = stateMachineName(opts.naming, def);
    const definition = JSON.stringify(compileToAsl(def, opts.targets));
    const arn = existing.get(name);
    const action: DeployAction = arn
      ? { action: "update", request: { stateMachineArn: arn, definition, roleArn: opts.roleArn, publish: true, versionDescription: `${def.name} v${def.version}` } }
      : {
          action: "create",
          request: {
            name,
            definition,
            roleArn: opts.roleArn,
            type: "STANDARD",
            publish: true,
            versionDescription: `${def.name} v${def.version}`,
            tags: [{ key: "orchestrator:workflow-version", value: String(def.version) }],
          },
        };
    if (!opts.dryRun) {
      if (action.action === "update") await opts.sfn.send(new UpdateStateMachineCommand(action.request));
      else await opts.sfn.send(new CreateStateMachineCommand(action.request));
    }
    actions.push(action);
  }
  return actions;
}
