// Deploys the compiled workflows as Step Functions state machines, after checking the AWS resources they point at.
import {
  CreateStateMachineCommand,
  paginateListStateMachines,
  TagResourceCommand,
  UpdateStateMachineCommand,
  type CreateStateMachineCommandInput,
  type SFNClient,
  type TagResourceCommandInput,
  type UpdateStateMachineCommandInput,
} from "@aws-sdk/client-sfn";
import { DescribeTaskDefinitionCommand, type ECSClient } from "@aws-sdk/client-ecs";
import { GetFunctionConfigurationCommand, type LambdaClient } from "@aws-sdk/client-lambda";
import type { WorkflowDefinition } from "../workflows/schema.js";
import { compileToAsl, longestLambdaStep, type AslTargets } from "./asl.js";
import { stateMachineName, type StateMachineNaming } from "./step-functions.js";

export interface DeployOptions {
  readonly sfn: SFNClient;
  readonly naming: StateMachineNaming;
  readonly roleArn: string;
  readonly targets: AslTargets;
  readonly definitions: readonly WorkflowDefinition[];
  /** Only read which machines exist and return the requests; create, update and tag nothing. */
  readonly dryRun: boolean;
  /** When given, the agent task definition and the activity Lambda are checked before anything is deployed. */
  readonly preflight?: { readonly ecs: ECSClient; readonly lambda: LambdaClient };
}

/** Lambda's timeout when the function configuration names none. */
const LAMBDA_DEFAULT_TIMEOUT_SECONDS = 3;

/**
 * A failed preflight read: "register it first" only when AWS says the resource does not exist
 * (ECS answers ClientException, Lambda ResourceNotFoundException); anything else is the
 * connection, the credentials or a permission, and saying "create it" would mislead.
 */
function preflightError(setting: string, value: string, notFound: string, fix: string, permission: string) {
  return (err: Error): never => {
    if (err.name === notFound) throw new Error(`${setting} ${value}: ${err.message}; ${fix}`);
    throw new Error(
      `${setting} ${value} could not be checked (${err.name}: ${err.message}); check the AWS credentials, the ${permission} permission, AWS_REGION and the endpoint settings`,
    );
  };
}

/** Refuses to deploy machines that would point at a missing or unusable task definition or Lambda. */
async function checkTargets(targets: AslTargets, definitions: readonly WorkflowDefinition[], clients: { ecs: ECSClient; lambda: LambdaClient }): Promise<void> {
  const taskDef = targets.ecs.taskDefinitionArn;
  const td = await clients.ecs
    .send(new DescribeTaskDefinitionCommand({ taskDefinition: taskDef }))
    .catch(preflightError("ECS_TASK_DEFINITION_ARN", taskDef, "ClientException", "register it (and pin its revision) first", "ecs:DescribeTaskDefinition"));
  if (td.taskDefinition?.status !== "ACTIVE") throw new Error(`ECS_TASK_DEFINITION_ARN ${taskDef} is ${td.taskDefinition?.status ?? "unknown"}; pin an ACTIVE revision`);
  if (!td.taskDefinition.containerDefinitions?.some((c) => c.name === targets.ecs.containerName))
    throw new Error(`ECS_CONTAINER_NAME ${targets.ecs.containerName}: no such container in ${taskDef}`);
  if (!td.taskDefinition.requiresCompatibilities?.includes("FARGATE"))
    throw new Error(`ECS_TASK_DEFINITION_ARN ${taskDef} is not Fargate-compatible; agent and gate tasks run on Fargate`);
  const fn = await clients.lambda
    .send(new GetFunctionConfigurationCommand({ FunctionName: targets.activityLambdaArn }))
    .catch(
      preflightError("ACTIVITY_LAMBDA_ARN", targets.activityLambdaArn, "ResourceNotFoundException", "deploy the activity Lambda (dist/lambda.handler) first", "lambda:GetFunctionConfiguration"),
    );
  // Lambda stops the function at its own timeout, before a longer Task timeout could apply.
  const longest = longestLambdaStep(definitions);
  const timeout = fn.Timeout ?? LAMBDA_DEFAULT_TIMEOUT_SECONDS;
  if (longest && timeout < longest.timeoutSeconds)
    throw new Error(
      `ACTIVITY_LAMBDA_ARN ${targets.activityLambdaArn} has a timeout of ${timeout} s, shorter than step ${longest.step} of ${longest.workflow} (TimeoutSeconds ${longest.timeoutSeconds}); raise the function's timeout to at least ${longest.timeoutSeconds} s`,
    );
}

export type DeployAction =
  | { readonly action: "create"; readonly request: CreateStateMachineCommandInput }
  | { readonly action: "update"; readonly request: UpdateStateMachineCommandInput; readonly tag: TagResourceCommandInput };

function versionTag(def: WorkflowDefinition) {
  return [{ key: "orchestrator:workflow-version", value: String(def.version) }];
}

/** Creates the state machines that do not exist and updates (and re-tags) the others, one per workflow definition. */
export async function deployStateMachines(opts: DeployOptions): Promise<DeployAction[]> {
  // With no security group ECS puts the tasks in the VPC's default group, whose rules nobody chose for agents.
  if (opts.targets.ecs.securityGroups.length === 0)
    throw new Error("ECS_SECURITY_GROUPS is empty: ECS would put agent and gate tasks in the VPC's default security group; name the security group(s) made for them");
  // Compile first: a definition the compiler refuses stops the deploy before any AWS call.
  const compiled = opts.definitions.map((def) => ({ def, definition: JSON.stringify(compileToAsl(def, opts.targets)) }));
  if (opts.preflight) await checkTargets(opts.targets, opts.definitions, opts.preflight);
  const existing = new Map<string, string>();
  for await (const page of paginateListStateMachines({ client: opts.sfn }, {}))
    for (const m of page.stateMachines ?? []) if (m.name && m.stateMachineArn) existing.set(m.name, m.stateMachineArn);
  const actions: DeployAction[] = [];
  for (const { def, definition } of compiled) {
    const name = stateMachineName(opts.naming, def);
    const arn = existing.get(name);
    const common = { definition, roleArn: opts.roleArn, publish: true, versionDescription: `${def.name} v${def.version}` };
    const action: DeployAction = arn
      ? { action: "update", request: { stateMachineArn: arn, ...common }, tag: { resourceArn: arn, tags: versionTag(def) } }
      : { action: "create", request: { name, ...common, type: "STANDARD", tags: versionTag(def) } };
    if (!opts.dryRun) {
      if (action.action === "update") {
        await opts.sfn.send(new UpdateStateMachineCommand(action.request));
        // UpdateStateMachine takes no tags; without this the tag would keep naming the first version deployed.
        await opts.sfn.send(new TagResourceCommand(action.tag));
      } else await opts.sfn.send(new CreateStateMachineCommand(action.request));
    }
    actions.push(action);
  }
  return actions;
}
