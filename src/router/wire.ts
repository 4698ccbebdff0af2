// Assembles the model router and its gateway from settings: the policy (failing closed if it is invalid), budgets, recorder, tokens.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import type { Config } from "../config.js";
import type { HttpEdge, ReadinessCheck } from "../handlers/server.js";
import type { Logger } from "../log.js";
import type { Ledger, TransactionalLedger } from "../orchestrator/ledger/port.js";
import type { DatabaseSync } from "../store/sqlite.js";
import { routerPolicy } from "./assemble.js";
import { DynamoBudgetStore, type DynamoBudgetOptions } from "./budgets/dynamodb.js";
import type { BudgetStore } from "./budgets/port.js";
import { SqliteBudgetStore } from "./budgets/sqlite.js";
import { modelGateway } from "./gateway.js";
import { gatewaySecret, GatewayTokens } from "./gateway-token.js";
import { KillSwitch } from "./kill-switch.js";
import { resolveCredentials, type SecretFetcher } from "./credentials.js";
import { LedgerModelCallRecorder } from "./ledger-recorder.js";
import { loadPolicyFile, PolicyError } from "./policy.js";
import { ModelCallRefused, ModelRouter, type RouterPolicy } from "./service.js";

export interface ModelRouterParts {
  readonly router: ModelRouter;
  /** Mints the run-scoped tokens agents use against the gateway. */
  readonly tokens: GatewayTokens;
  readonly killSwitch: KillSwitch;
  readonly edge: HttpEdge;
  readonly readiness: ReadinessCheck;
  /**
   * What runs record as their `policy_version`: the loaded policy's version, or
   * `invalid:<sha256 of the file>` (`invalid:unreadable`) when it failed to load. Runs still start
   * then, and every model call they make is refused, so the ledger says which file governed them.
   */
  readonly policyVersion: string;
  /** Writes what is still buffered (budget settlements); call before the database closes. */
  close(): void;
}

export interface ModelRouterOptions {
  readonly settings: Config["router"];
  /**
   * The ledger's DynamoDB table (LEDGER_BACKEND=dynamodb): the budget reservations go there too,
   * under `BUDGET#<run>`, so every server and task sharing that table shares one budget per run.
   * Unset, they live in `db`. Its client belongs to the audit stores, which close it.
   */
  readonly dynamoTable: DynamoBudgetOptions | undefined;
  readonly dataDir: string;
  readonly db: DatabaseSync;
  /** Where every call attempt becomes a `model_call` entry. */
  readonly ledger: Ledger;
  /** The same ledger when it lives on `db` (LEDGER_BACKEND=sqlite): budget settlements then share its commits. */
  readonly transactionalLedger: TransactionalLedger | undefined;
  /** Where `{env: NAME}` references are read (the process environment, in the composition root). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Reads `{secrets_manager: id}` references; unset, such providers refuse calls with the reason. */
  readonly fetchSecret?: SecretFetcher;
  readonly logger: Logger;
}

export async function buildModelRouter(o: ModelRouterOptions): Promise<ModelRouterParts> {
  const file = path.resolve(o.settings.policyPath);
  let state: RouterPolicy | undefined;
  let problem: string | undefined;
  try {
    const loaded = loadPolicyFile(file);
    state = routerPolicy(loaded, await resolveCredentials(loaded, o.env, o.fetchSecret));
    o.logger.info({ policy: file, policy_version: state.loaded.version }, "routing policy loaded");
  } catch (err) {
    // Fail closed: the server runs, /readyz says why, and every model call is refused with the reason.
    problem = err instanceof PolicyError ? err.message : `routing policy ${file}: ${(err as Error).message}`;
    o.logger.error({ policy: file }, problem);
  }
  const killSwitch = new KillSwitch(o.settings.killSwitch);
  const { budgets, recorder, close } = budgetStore(o);
  const router = new ModelRouter({
    policy: () => {
      if (!state) throw new ModelCallRefused("no_route", problem ?? "no routing policy");
      return state;
    },
    budgets,
    recorder,
    killSwitch,
  });
  const tokens = new GatewayTokens(gatewaySecret(o.settings.gatewayTokenSecret, path.join(o.dataDir, "gateway-token.key")), o.settings.gatewayTokenTtlSeconds);
  return {
    router,
    tokens,
    killSwitch,
    policyVersion: state ? state.loaded.version : invalidPolicyVersion(file),
    edge: modelGateway({ router, tokens }),
    close,
    readiness: {
      name: "routing_policy",
      check: async () => {
        if (problem) throw new Error(problem);
      },
    },
  };
}

/** The budget store for the ledger's backend, the recorder that writes `model_call` entries next to it, and how to close them. */
function budgetStore(o: ModelRouterOptions): { budgets: BudgetStore; recorder: LedgerModelCallRecorder; close: () => void } {
  if (o.dynamoTable) {
    // The ledger's table already exists (or was created with DYNAMODB_CREATE_TABLE) by the time the router is built.
    return { budgets: new DynamoBudgetStore(o.dynamoTable), recorder: new LedgerModelCallRecorder(o.ledger), close: () => undefined };
  }
  const budgets = new SqliteBudgetStore(o.db);
  const shared = o.transactionalLedger && { ledger: o.transactionalLedger, commitWith: budgets.commitWith };
  return { budgets, recorder: new LedgerModelCallRecorder(o.ledger, shared), close: () => budgets.flush() };
}

function invalidPolicyVersion(file: string): string {
  try {
    return `invalid:${createHash("sha256").update(readFileSync(file)).digest("hex")}`;
  } catch {
    return "invalid:unreadable";
  }
}
