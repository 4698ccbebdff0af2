// BudgetStore over DynamoDB: one conditional update of a run's totals item reserves, so concurrent calls from any task cannot overrun a limit.
import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DescribeTableCommand,
  GetItemCommand,
  PutItemCommand,
  ResourceNotFoundException,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from "@aws-sdk/client-dynamodb";
import { ulid } from "ulid";
import type { Role } from "../policy.js";
import { fromMicros, toMicros, usd, type BudgetStore, type ReserveRequest, type ReserveResult, type RunUsage } from "./port.js";

export interface DynamoBudgetOptions {
  readonly client: DynamoDBClient;
  /** A table with string keys `pk` and `sk`: the run ledger's own (single-table design), or one of its own. */
  readonly table: string;
}

const S = (s: string): AttributeValue => ({ S: s });
const N = (n: number): AttributeValue => ({ N: String(n) });
/** Budget partitions; the ledger's are `RUN#<run>`, so the two never share a partition key. */
export const BUDGET_KEY_PREFIX = "BUDGET#";
const pk = (runId: string) => `${BUDGET_KEY_PREFIX}${runId}`;
const roleAttr = (role: Role) => `role_${role}`;

/**
 * Items: `BUDGET#<run>` / `TOTAL` (micros, tokens, calls, role_<role>), and one `RES#<id>` per
 * reservation. They carry none of the ledger's index attributes (kind, repo_scope, status,
 * subject), so in a shared table they stay out of its GSIs, and out of its verify scan (which
 * reads only `HEAD` and first-entry items).
 */
export class DynamoBudgetStore implements BudgetStore {
  constructor(private readonly o: DynamoBudgetOptions) {}

  /** For local servers and first deploys: the table, if it does not exist. */
  async ensureTable(): Promise<void> {
    try {
      await this.o.client.send(new DescribeTableCommand({ TableName: this.o.table }));
    } catch (err) {
      if (!(err instanceof ResourceNotFoundException)) throw err;
      await this.o.client.send(
        new CreateTableCommand({
          TableName: this.o.table,
          BillingMode: "PAY_PER_REQUEST",
          AttributeDefinitions: [
            { AttributeName: "pk", AttributeType: "S" },
            { AttributeName: "sk", AttributeType: "S" },
          ],
          KeySchema: [
            { AttributeName: "pk", KeyType: "HASH" },
            { AttributeName: "sk", KeyType: "RANGE" },
          ],
        }),
      );
    }
  }

  async reserve(req: ReserveRequest): Promise<ReserveResult> {
    const cost = toMicros(req.costUsd);
    const runMax = toMicros(req.limits.maxCostPerRunUsd);
    const roleMax = req.limits.maxCostPerRoleUsd === undefined ? undefined : toMicros(req.limits.maxCostPerRoleUsd);
    if (cost > runMax || (roleMax !== undefined && cost > roleMax)) return this.refusal(req);
    // The run's id rides in the reservation id, so settle() finds the run without another lookup table.
    const id = `${req.runId}~${ulid()}`;
    const roleCond = roleMax === undefined ? "" : " AND (attribute_not_exists(#role) OR #role <= :roleLeft)";
    // One conditional update of the run's totals is the atomic check-and-reserve. The reservation
    // item is written after it: should the process die in between, the amount simply stays
    // reserved, which errs on the side of the limit.
    try {
      await this.o.client.send(
        new UpdateItemCommand({
          TableName: this.o.table,
          Key: { pk: S(pk(req.runId)), sk: S("TOTAL") },
          UpdateExpression: "ADD micros :c, tokens :t, calls :one, #role :c",
          ConditionExpression: `(attribute_not_exists(micros) OR (micros <= :runLeft AND calls < :maxCalls))${roleCond}`,
          ExpressionAttributeNames: { "#role": roleAttr(req.role) },
          ExpressionAttributeValues: {
            ":c": N(cost),
            ":t": N(req.tokens),
            ":one": N(1),
            ":runLeft": N(runMax - cost),
            ":maxCalls": N(req.limits.maxCallsPerRun),
            ...(roleMax === undefined ? {} : { ":roleLeft": N(roleMax - cost) }),
          },
        }),
      );
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return this.refusal(req);
      throw err;
    }
    await this.o.client.send(
      new PutItemCommand({
        TableName: this.o.table,
        Item: { pk: S(pk(req.runId)), sk: S(`RES#${id}`), role: S(req.role), micros: N(cost), tokens: N(req.tokens), settled: { BOOL: false } },
      }),
    );
    return { ok: true, id };
  }

  async settle(id: string, actual: { tokens: number; costUsd: number }): Promise<void> {
    const runId = id.slice(0, id.lastIndexOf("~"));
    const micros = toMicros(actual.costUsd);
    let old: Record<string, AttributeValue> | undefined;
    try {
      // Marking the reservation settled is conditional, so a settle that runs twice adjusts the totals once.
      const out = await this.o.client.send(
        new UpdateItemCommand({
          TableName: this.o.table,
          Key: { pk: S(pk(runId)), sk: S(`RES#${id}`) },
          UpdateExpression: "SET settled = :t, micros = :m, tokens = :k",
          ConditionExpression: "settled = :f",
          ExpressionAttributeValues: { ":t": { BOOL: true }, ":f": { BOOL: false }, ":m": N(micros), ":k": N(actual.tokens) },
          ReturnValues: "ALL_OLD",
        }),
      );
      old = out.Attributes;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return;
      throw err;
    }
    if (!old) return;
    await this.o.client.send(
      new UpdateItemCommand({
        TableName: this.o.table,
        Key: { pk: S(pk(runId)), sk: S("TOTAL") },
        UpdateExpression: "ADD micros :dm, tokens :dt, #role :dm",
        ExpressionAttributeNames: { "#role": roleAttr(old.role!.S as Role) },
        ExpressionAttributeValues: { ":dm": N(micros - Number(old.micros!.N)), ":dt": N(actual.tokens - Number(old.tokens!.N)) },
      }),
    );
  }

  async usage(runId: string): Promise<RunUsage> {
    const out = await this.o.client.send(new GetItemCommand({ TableName: this.o.table, Key: { pk: S(pk(runId)), sk: S("TOTAL") }, ConsistentRead: true }));
    const it = out.Item ?? {};
    const byRole: Partial<Record<Role, number>> = {};
    for (const [k, v] of Object.entries(it)) if (k.startsWith("role_")) byRole[k.slice(5) as Role] = fromMicros(Number(v.N));
    return { calls: Number(it.calls?.N ?? 0), tokens: Number(it.tokens?.N ?? 0), costUsd: fromMicros(Number(it.micros?.N ?? 0)), byRole };
  }

  /** Reads the totals to say which limit refused the reservation, in the same words as the SQLite store. */
  private async refusal(req: ReserveRequest): Promise<ReserveResult> {
    const u = await this.usage(req.runId);
    if (u.calls >= req.limits.maxCallsPerRun) return { ok: false, reason: `run ${req.runId} has made ${u.calls} model calls, the policy's max_calls_per_run` };
    const role = u.byRole[req.role] ?? 0;
    if (req.limits.maxCostPerRoleUsd !== undefined && toMicros(role) + toMicros(req.costUsd) > toMicros(req.limits.maxCostPerRoleUsd)) {
      return {
        ok: false,
        reason: `${req.role} budget exhausted: ${usd(role)} spent or reserved + ${usd(req.costUsd)} for this call > max_cost_per_role_usd.${req.role} ${usd(req.limits.maxCostPerRoleUsd)}`,
      };
    }
    return {
      ok: false,
      reason: `run budget exhausted: ${usd(u.costUsd)} spent or reserved + ${usd(req.costUsd)} for this call > max_cost_per_run_usd ${usd(req.limits.maxCostPerRunUsd)}`,
    };
  }
}
