// Builds the workflow engine chosen by the `engine` settings, for the server, the CLI and the activity Lambda alike.
import { hostname } from "node:os";
import { ECSClient } from "@aws-sdk/client-ecs";
import { LambdaClient } from "@aws-sdk/client-lambda";
import { SFNClient } from "@aws-sdk/client-sfn";
import { stepFunctionsProblems, type Config } from "../../config.js";
import type { Logger } from "../../log.js";
import type { DatabaseSync } from "../../store/sqlite.js";
import { defaultActivities, type ActivityRegistry } from "../activities/registry.js";
import type { Ledger, TransactionalLedger } from "../ledger/port.js";
import { builtinCatalog } from "../workflows/index.js";
import type { AslTargets } from "./asl.js";
import { EmbeddedEngine } from "./embedded.js";
import type { WorkflowEngine } from "./port.js";
import { StepFunctionsEngine, type StateMachineNaming } from "./step-functions.js";

/** The policy version runs record where no router is built (the activity Lambda, CLI tools that never start runs). */
export const DEFAULT_POLICY_VERSION = "routing-policy.yaml";

export interface EngineParts {
  readonly config: Config;
  readonly ledger: Ledger;
  /** Present with LEDGER_BACKEND=sqlite: the embedded engine commits transitions and entries together through it. */
  readonly transactionalLedger: TransactionalLedger | undefined;
  /** The shared embedded database (embedded engine only). */
  readonly db: DatabaseSync;
  readonly logger: Logger;
  readonly activities?: ActivityRegistry;
  readonly policyVersion?: string;
  /** Embedded engine: milliseconds before a retry delayed by `seconds` (tests shorten the definitions' backoff). */
  readonly retryDelayMs?: (seconds: number) => number;
  /** Embedded engine: false records and queues runs without executing steps in this process (one-shot CLI commands). Default true. */
  readonly takeWork?: boolean;
}

/** The engine for ENGINE=embedded|step-functions; the embedded one starts taking work at once unless `takeWork` is false. */
export function buildEngine(p: EngineParts): WorkflowEngine {
  const { config } = p;
  const policyVersion = p.policyVersion ?? DEFAULT_POLICY_VERSION;
  if (config.engine.backend === "step-functions") {
    if (config.ledger.backend !== "dynamodb")
      throw new Error("ENGINE=step-functions needs LEDGER_BACKEND=dynamodb: the activity Lambda records each run's transitions there");
    return new StepFunctionsEngine({ sfn: sfnClient(config), ledger: p.ledger, naming: stateMachineNaming(config), policyVersion, logger: p.logger.child({ component: "engine" }) });
  }
  if (!p.transactionalLedger)
    throw new Error("ENGINE=embedded needs LEDGER_BACKEND=sqlite: a transition and its ledger entries commit together; use ENGINE=step-functions with DynamoDB");
  const e = config.engine;
  const engine = new EmbeddedEngine({
    db: p.db,
    ledger: p.transactionalLedger,
    activities: p.activities ?? defaultActivities(),
    catalog: builtinCatalog(),
    workerId: e.workerId ?? `${hostname()}:${process.pid}`,
    concurrency: e.concurrency,
    perRepoConcurrency: e.perRepoConcurrency,
    leaseMs: e.leaseMs,
    pollIntervalMs: e.pollIntervalMs,
    policyVersion,
    logger: p.logger.child({ component: "engine" }),
    ...(p.retryDelayMs ? { retryDelayMs: p.retryDelayMs } : {}),
  });
  if (p.takeWork ?? true) engine.startWorker();
  return engine;
}

/** One way to build every AWS client of the engine: the configured region, the SDK's default credentials, an optional endpoint. */
function clientConfig(config: Config, endpoint: string | undefined): { region?: string; endpoint?: string } {
  return { ...(config.aws.region ? { region: config.aws.region } : {}), ...(endpoint ? { endpoint } : {}) };
}

export function sfnClient(config: Config): SFNClient {
  return new SFNClient(clientConfig(config, config.engine.sfnEndpoint));
}

/** The clients `workflows deploy` checks the agent task definition and the activity Lambda with. */
export function preflightClients(config: Config): { ecs: ECSClient; lambda: LambdaClient } {
  return { ecs: new ECSClient(clientConfig(config, config.engine.ecsEndpoint)), lambda: new LambdaClient(clientConfig(config, config.engine.lambdaEndpoint)) };
}

/** Throws naming every missing Step Functions setting. */
export function requireStepFunctions(config: Config): void {
  const problems = [...stepFunctionsProblems(config), ...(config.aws.region ? [] : ["AWS_REGION: the region of the state machines (e.g. eu-west-1)."])];
  if (problems.length > 0) throw new Error(`Step Functions settings missing:\n  - ${problems.join("\n  - ")}`);
}

export function stateMachineNaming(config: Config): StateMachineNaming {
  requireStepFunctions(config);
  const accountId = /::(\d{12}):/.exec(config.engine.sfnRoleArn!)![1]!;
  return { region: config.aws.region!, accountId, prefix: config.engine.stateMachinePrefix };
}

/** The compiler's targets from the settings, or undefined when they are not all set. */
export function aslTargets(config: Config): AslTargets | undefined {
  const e = config.engine;
  if (stepFunctionsProblems(config).length > 0) return undefined;
  return {
    activityLambdaArn: e.activityLambdaArn!,
    ecs: {
      clusterArn: e.ecsCluster!,
      taskDefinitionArn: e.ecsTaskDefinition!,
      containerName: e.ecsContainer,
      subnets: e.ecsSubnets,
      securityGroups: e.ecsSecurityGroups,
      assignPublicIp: e.ecsAssignPublicIp,
    },
    taskInputPrefix: e.taskInputPrefix!,
  };
}
