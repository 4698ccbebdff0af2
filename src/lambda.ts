// The activity-dispatcher Lambda: Step Functions invokes it for every non-agent step; it runs the same activity code as the embedded engine.
import { loadConfig } from "./config.js";
import { createDispatcher, type Dispatch } from "./orchestrator/activities/dispatcher.js";
import type { JsonObject } from "./orchestrator/activities/port.js";
import { defaultActivities } from "./orchestrator/activities/registry.js";
import { buildAuditStores } from "./orchestrator/evidence/wire.js";
import { openSqlite } from "./store/sqlite.js";

/** The part of the Lambda context the handler uses. */
export interface LambdaContext {
  getRemainingTimeInMillis(): number;
}

/** Stop the activity this long before Lambda would kill it, so the failure is recorded and Step Functions retries cleanly. */
const STOP_MARGIN_MS = 2_000;

/** A handler over a dispatcher; errors propagate with their name, which Step Functions matches in Retry/Catch. */
export function lambdaHandler(dispatcher: () => Promise<Dispatch>) {
  return async (event: unknown, context?: LambdaContext): Promise<JsonObject> => {
    const dispatch = await dispatcher();
    const left = context?.getRemainingTimeInMillis();
    const signal = left === undefined ? undefined : AbortSignal.timeout(Math.max(1, left - STOP_MARGIN_MS));
    return dispatch(event, signal);
  };
}

let cold: Promise<Dispatch> | undefined;

/** Built once per container: configuration from the function's environment, the DynamoDB ledger, the activities. */
async function fromEnvironment(): Promise<Dispatch> {
  const config = loadConfig(process.env);
  if (config.ledger.backend !== "dynamodb")
    throw new Error("the activity Lambda records transitions in the shared ledger: set LEDGER_BACKEND=dynamodb (and DYNAMODB_TABLE, AWS_REGION)");
  // The audit stores share a connection with the embedded backends; in Lambda nothing embedded is used.
  const db = openSqlite(":memory:", { synchronous: "NORMAL" });
  const audit = await buildAuditStores({ config, dataDir: "/tmp/orchestrator", db, dbFile: ":memory:" });
  return createDispatcher({ activities: defaultActivities(), ledger: audit.ledger });
}

/** Entry point (`dist/lambda.handler`). A failed start is not kept: the next invocation builds again (a fixed setting or a passing outage takes effect). */
export const handler = lambdaHandler(
  () =>
    (cold ??= fromEnvironment().catch((err: unknown) => {
      cold = undefined;
      throw err;
    })),
);
