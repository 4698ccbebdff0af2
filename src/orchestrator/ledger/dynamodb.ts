// The AWS ledger: one DynamoDB table, entries written with conditional puts (no transactions needed).
import {
  BatchGetItemCommand,
  ConditionalCheckFailedException,
  CreateTableCommand,
  DescribeTableCommand,
  PutItemCommand,
  QueryCommand,
  ResourceNotFoundException,
  ScanCommand,
  waitUntilTableExists,
  type AttributeValue,
  type DynamoDBClient,
  type QueryCommandInput,
  type QueryCommandOutput,
  type ScanCommandOutput,
  type BatchGetItemCommandOutput,
} from "@aws-sdk/client-dynamodb";
import { mergeSegments, walkSegment, type RunHead, type SegmentResult, type StoredRow } from "./chain.js";
import { decodeEntry, sealEntry, type SealedEntry } from "./entry.js";
import { advanceSummary, projectRun, summaryFromCreated } from "./projection.js";
import {
  GENESIS_HASH,
  LedgerConflictError,
  LedgerInputError,
  type AppendRequest,
  type AppendResult,
  type Entry,
  type Ledger,
  type RunPage,
  type RunQuery,
  type RunSummary,
  type VerifyReport,
} from "./port.js";
import { decodeCursor, encodeCursor, pageLimit } from "./query.js";

type Item = Record<string, AttributeValue>;

/*
 * Item layout (single table, key pk + sk):
 *   entry    pk RUN#<id>  sk E#<seq, 10 digits>   seq, type, hash, body (the canonical bytes)
 *   head     pk RUN#<id>  sk HEAD                 the run summary; kind/repo_scope/status feed the indexes
 *   subject  pk RUN#<id>  sk SUBJ#<subject key>   subject, run_id (index by_subject)
 * Entries are written first, each with attribute_not_exists (so no two writers get the same seq),
 * then the subject items of subjects they add (run_created's, a published PR/MR), then the head
 * moves forward conditionally. A crash in between leaves the head behind its entries, which the
 * next append and verify both tolerate: the entries are the truth, and the next append writes
 * the subject items of every subject its run has beyond the stored head's.
 */
const pk = (runId: string) => `RUN#${runId}`;
const entrySk = (seq: number) => `E#${String(seq).padStart(10, "0")}`;
const S = (s: string): AttributeValue => ({ S: s });
const N = (n: number): AttributeValue => ({ N: String(n) });

const indexes = [
  { name: "by_time", hash: "kind" },
  { name: "by_repo", hash: "repo_scope" },
  { name: "by_status", hash: "status" },
  { name: "by_subject", hash: "subject" },
] as const;

export interface DynamoLedgerOptions {
  readonly client: DynamoDBClient;
  readonly table: string;
  /** Create the table (with its indexes) when missing: for local servers and first deploys. */
  readonly createTable?: boolean;
  readonly now?: () => Date;
}

export async function dynamoLedger(opts: DynamoLedgerOptions): Promise<Ledger> {
  const { client, table } = opts;
  const now = opts.now ?? (() => new Date());
  if (opts.createTable) await ensureTable(client, table);
  /** Summaries this process wrote last; entries never change, so a stale one only costs a conflict. */
  const cache = new Map<string, RunSummary>();

  async function queryAll(input: Omit<QueryCommandInput, "TableName">): Promise<Item[]> {
    const items: Item[] = [];
    let start: Item | undefined;
    do {
      const out = await client.send(new QueryCommand({ TableName: table, ...input, ExclusiveStartKey: start }));
      items.push(...(out.Items ?? []));
      start = out.LastEvaluatedKey;
    } while (start);
    return items;
  }

  async function entryItems(runId: string, fromSeq: number): Promise<Item[]> {
    return queryAll({
      KeyConditionExpression: "pk = :pk AND sk BETWEEN :from AND :to",
      ExpressionAttributeValues: { ":pk": S(pk(runId)), ":from": S(entrySk(fromSeq)), ":to": S("E#9999999999") },
      ConsistentRead: true,
    });
  }

  /**
   * The run's stored head item, and its summary including every stored entry (the head item may
   * lag after a crash). Every subject of the stored head has its subject item: they are written first.
   */
  async function currentSummary(runId: string): Promise<{ stored?: RunSummary; current?: RunSummary }> {
    const out = await client.send(new QueryCommand({ TableName: table, KeyConditionExpression: "pk = :pk AND sk = :sk", ExpressionAttributeValues: { ":pk": S(pk(runId)), ":sk": S("HEAD") }, ConsistentRead: true }));
    const stored = out.Items?.[0] ? toSummary(out.Items[0]) : undefined;
    let current = stored;
    const later = await entryItems(runId, stored ? stored.head.seq + 1 : 0);
    for (const item of later) {
      const e = itemEntry(item);
      current = current ? advanceSummary(current, e) : summaryFromCreated(e);
    }
    return { stored, current };
  }

  async function appendOne(req: AppendRequest): Promise<AppendResult> {
    if (req.entries.length === 0) throw new LedgerInputError(`${req.runId}: append needs at least one entry`);
    let summary = cache.get(req.runId);
    /** A summary whose subjects all have their subject items (this process wrote them, or the stored head says so). */
    let indexed = summary;
    if (!summary || summary.head.seq + 1 !== req.expectedSeq) {
      const found: { stored?: RunSummary; current?: RunSummary } = req.expectedSeq === 0 ? {} : await currentSummary(req.runId);
      summary = found.current;
      indexed = found.stored;
    }
    const nextSeq = summary ? summary.head.seq + 1 : 0;
    if (!summary && req.expectedSeq > 0) throw new LedgerInputError(`no run ${req.runId} in the ledger; a run starts with its run_created entry at seq 0`);
    if (req.expectedSeq !== nextSeq) throw new LedgerConflictError(req.runId, req.expectedSeq, nextSeq);
    // Every entry is sealed (validated, and checked against the run) before any is written: a bad one writes nothing.
    let prev = summary ? summary.head.hash : GENESIS_HASH;
    const sealed: SealedEntry[] = [];
    for (const [i, e] of req.entries.entries()) {
      const next = sealEntry(req.runId, nextSeq + i, prev, e, now);
      summary = summary ? advanceSummary(summary, next.entry) : summaryFromCreated(next.entry);
      prev = next.entry.hash;
      sealed.push(next);
    }
    for (const { entry, bytes } of sealed) {
      try {
        await client.send(
          new PutItemCommand({
            TableName: table,
            Item: { pk: S(pk(req.runId)), sk: S(entrySk(entry.seq)), seq: N(entry.seq), type: S(entry.type), hash: S(entry.hash), body: { B: bytes } },
            ConditionExpression: "attribute_not_exists(pk)",
          }),
        );
      } catch (err) {
        cache.delete(req.runId);
        if (err instanceof ConditionalCheckFailedException) throw new LedgerConflictError(req.runId, entry.seq, undefined);
        throw err;
      }
    }
    const s = summary!;
    // Subject items are the same item each time they are written, so writing one again is harmless.
    for (const subject of s.subjects)
      if (!indexed?.subjects.includes(subject))
        await client.send(new PutItemCommand({ TableName: table, Item: { pk: S(pk(s.run_id)), sk: S(`SUBJ#${subject}`), subject: S(subject), run_id: S(s.run_id) } }));
    await moveHead(s);
    cache.set(s.run_id, s);
    if (cache.size > 10_000) cache.delete(cache.keys().next().value!);
    return { runId: req.runId, entries: sealed.map((x) => x.entry), head: s.head };
  }

  async function moveHead(s: RunSummary): Promise<void> {
    try {
      await client.send(new PutItemCommand({ TableName: table, Item: headItem(s), ConditionExpression: "attribute_not_exists(pk) OR head_seq < :seq", ExpressionAttributeValues: { ":seq": N(s.head.seq) } }));
    } catch (err) {
      // Another writer already moved the head past ours: theirs includes our entries.
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    }
  }

  async function heads(runIds: readonly string[]): Promise<RunSummary[]> {
    const found = new Map<string, RunSummary>();
    for (let i = 0; i < runIds.length; i += 100) {
      let keys: Item[] | undefined = runIds.slice(i, i + 100).map((id) => ({ pk: S(pk(id)), sk: S("HEAD") }));
      while (keys && keys.length > 0) {
        const out: BatchGetItemCommandOutput = await client.send(new BatchGetItemCommand({ RequestItems: { [table]: { Keys: keys } } }));
        for (const item of out.Responses?.[table] ?? []) found.set(item.run_id!.S!, toSummary(item));
        keys = out.UnprocessedKeys?.[table]?.Keys;
      }
    }
    return runIds.flatMap((id) => found.get(id) ?? []);
  }

  return {
    async append(requests) {
      const out: AppendResult[] = [];
      for (const r of requests) out.push(await appendOne(r));
      return out;
    },
    async entries(runId, fromSeq = 0) {
      return (await entryItems(runId, fromSeq)).map(itemEntry);
    },
    async run(runId) {
      const entries = (await entryItems(runId, 0)).map(itemEntry);
      return entries.length === 0 ? undefined : projectRun(entries);
    },
    async listRuns(query: RunQuery = {}): Promise<RunPage> {
      const limit = pageLimit(query.limit);
      const cursor = query.cursor ? decodeCursor(query.cursor) : undefined;
      const [index, key] = query.subject
        ? (["by_subject", query.subject] as const)
        : query.repo
          ? (["by_repo", query.repo] as const)
          : query.status
            ? (["by_status", query.status] as const)
            : (["by_time", "run"] as const);
      const hashAttr = indexes.find((i) => i.name === index)!.hash;
      const matches = (s: RunSummary) => (!query.repo || s.repo_scope === query.repo) && (!query.status || s.status === query.status);
      const runs: RunSummary[] = [];
      let start: Item | undefined;
      do {
        const out: QueryCommandOutput = await client.send(
          new QueryCommand({
            TableName: table,
            IndexName: index,
            KeyConditionExpression: cursor ? "#h = :h AND run_id < :c" : "#h = :h",
            ExpressionAttributeNames: { "#h": hashAttr },
            ExpressionAttributeValues: { ":h": S(key), ...(cursor ? { ":c": S(cursor) } : {}) },
            ScanIndexForward: false,
            Limit: limit + 1,
            ExclusiveStartKey: start,
          }),
        );
        const items = out.Items ?? [];
        const page = index === "by_subject" ? await heads(items.map((i) => i.run_id!.S!)) : items.map(toSummary);
        runs.push(...page.filter(matches));
        start = out.LastEvaluatedKey;
      } while (start && runs.length <= limit);
      const shown = runs.slice(0, limit);
      return runs.length > limit ? { runs: shown, next: encodeCursor(shown[shown.length - 1]!.run_id) } : { runs: shown };
    },
    async verify(opts = {}): Promise<VerifyReport> {
      // Runs are found from both their heads and their first entries, so a deleted head is noticed too.
      const found = new Map<string, RunHead | undefined>();
      if (opts.runId) {
        const s = (await heads([opts.runId]))[0];
        found.set(opts.runId, s && { runId: s.run_id, seq: s.head.seq, hash: s.head.hash });
      } else {
        let start: Item | undefined;
        do {
          const out: ScanCommandOutput = await client.send(
            new ScanCommand({
              TableName: table,
              FilterExpression: "sk IN (:head, :first)",
              ExpressionAttributeValues: { ":head": S("HEAD"), ":first": S(entrySk(0)) },
              ProjectionExpression: "pk, sk, head_seq, head_hash",
              ConsistentRead: true,
              ExclusiveStartKey: start,
            }),
          );
          for (const item of out.Items ?? []) {
            const runId = item.pk!.S!.slice(4);
            if (item.sk!.S === "HEAD") found.set(runId, { runId, seq: Number(item.head_seq!.N), hash: item.head_hash!.S! });
            else if (!found.has(runId)) found.set(runId, undefined);
          }
          start = out.LastEvaluatedKey;
        } while (start);
      }
      const segments: SegmentResult[] = [];
      let pos = 0;
      for (const runId of [...found.keys()].sort()) {
        const rows: StoredRow[] = (await entryItems(runId, 0)).map((item) => [pos++, runId, Number(item.seq!.N), item.type!.S!, item.hash!.S!, item.body!.B!]);
        const seg = walkSegment(rows);
        segments.push(seg);
        if (seg.problem) break;
      }
      return mergeSegments(segments, [...found.values()].filter((h): h is RunHead => h !== undefined));
    },
    async ready() {
      await client.send(new DescribeTableCommand({ TableName: table })).catch((err: unknown) => {
        if (err instanceof ResourceNotFoundException) throw new Error(`DynamoDB table ${table} does not exist; create it or set DYNAMODB_CREATE_TABLE=true`);
        throw err;
      });
    },
    async close() {
      // The client belongs to the composition root.
    },
  };
}

function itemEntry(item: Item): Entry {
  return decodeEntry(item.body!.B!, item.hash!.S!);
}

function headItem(s: RunSummary): Item {
  return {
    pk: S(pk(s.run_id)),
    sk: S("HEAD"),
    kind: S("run"),
    run_id: S(s.run_id),
    run_type: S(s.run_type),
    status: S(s.status),
    repo_scope: S(s.repo_scope),
    ...(s.title === undefined ? {} : { title: S(s.title) }),
    subjects: S(JSON.stringify(s.subjects)),
    created_at: S(s.created_at),
    updated_at: S(s.updated_at),
    head_seq: N(s.head.seq),
    head_hash: S(s.head.hash),
  };
}

function toSummary(item: Item): RunSummary {
  return {
    run_id: item.run_id!.S!,
    run_type: item.run_type!.S! as RunSummary["run_type"],
    status: item.status!.S! as RunSummary["status"],
    subjects: JSON.parse(item.subjects!.S!) as string[],
    repo_scope: item.repo_scope!.S!,
    ...(item.title?.S === undefined ? {} : { title: item.title.S }),
    created_at: item.created_at!.S!,
    updated_at: item.updated_at!.S!,
    head: { seq: Number(item.head_seq!.N), hash: item.head_hash!.S! },
  };
}

async function ensureTable(client: DynamoDBClient, table: string): Promise<void> {
  try {
    await client.send(new DescribeTableCommand({ TableName: table }));
    return;
  } catch (err) {
    if (!(err instanceof ResourceNotFoundException)) throw err;
  }
  await client.send(
    new CreateTableCommand({
      TableName: table,
      BillingMode: "PAY_PER_REQUEST",
      AttributeDefinitions: [
        { AttributeName: "pk", AttributeType: "S" },
        { AttributeName: "sk", AttributeType: "S" },
        { AttributeName: "run_id", AttributeType: "S" },
        ...indexes.map((i) => ({ AttributeName: i.hash, AttributeType: "S" as const })),
      ],
      KeySchema: [
        { AttributeName: "pk", KeyType: "HASH" },
        { AttributeName: "sk", KeyType: "RANGE" },
      ],
      GlobalSecondaryIndexes: indexes.map((i) => ({
        IndexName: i.name,
        KeySchema: [
          { AttributeName: i.hash, KeyType: "HASH" as const },
          { AttributeName: "run_id", KeyType: "RANGE" as const },
        ],
        Projection: { ProjectionType: "ALL" as const },
      })),
    }),
  ).catch((err: unknown) => {
    // Another process created it meanwhile.
    if (!(err instanceof Error && err.name === "ResourceInUseException")) throw err;
  });
  await waitUntilTableExists({ client, maxWaitTime: 60, minDelay: 1, maxDelay: 2 }, { TableName: table });
}
