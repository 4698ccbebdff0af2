// Builds a real router for tests: policy text, scripted or nock-backed providers, SQLite budgets and the SQLite ledger in a temp dir.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { newRunId, type Ledger } from "../../src/orchestrator/ledger/port.js";
import { sqliteLedger } from "../../src/orchestrator/ledger/sqlite.js";
import { routerPolicy } from "../../src/router/assemble.js";
import { SqliteBudgetStore } from "../../src/router/budgets/sqlite.js";
import { KillSwitch } from "../../src/router/kill-switch.js";
import { LedgerModelCallRecorder } from "../../src/router/ledger-recorder.js";
import { parsePolicy } from "../../src/router/policy.js";
import type { ModelProvider } from "../../src/router/providers/port.js";
import type { CredentialResolver } from "../../src/router/providers/registry.js";
import { ModelRouter, type RouterDeps } from "../../src/router/service.js";
import { openSqlite, type DatabaseSync } from "../../src/store/sqlite.js";

/** Starts a run in `ledger` (its run_created entry, on acme/app) and returns its id: model calls need a run to be recorded on. */
export async function seedRun(ledger: Pick<Ledger, "append">, policyVersion = "test"): Promise<string> {
  const runId = newRunId();
  await ledger.append([
    { runId, expectedSeq: 0, entries: [{ type: "run_created", payload: { run_type: "impl_change", source: { event_id: "test", origin: "api" }, repo_scope: "acme/app", policy_version: policyVersion } }] },
  ]);
  return runId;
}

export interface TestRouter {
  readonly router: ModelRouter;
  readonly ledger: Ledger;
  readonly db: DatabaseSync;
  readonly budgets: SqliteBudgetStore;
  readonly killSwitch: KillSwitch;
  readonly sleeps: number[];
  readonly dir: string;
  /** A run that exists in the ledger (model_call entries need one). */
  newRun(): Promise<string>;
  modelCalls(runId: string): Promise<Array<Record<string, unknown>>>;
  close(): void;
}

export async function testRouter(opts: {
  policy: string;
  files?: Record<string, string>;
  credentials?: CredentialResolver;
  deps?: Partial<RouterDeps>;
  /** Wraps each provider, e.g. to hold calls open so they overlap. */
  wrapProvider?: (p: ModelProvider) => ModelProvider;
}): Promise<TestRouter> {
  const dir = mkdtempSync(path.join(tmpdir(), "router-test-"));
  for (const [name, text] of Object.entries(opts.files ?? {})) writeFileSync(path.join(dir, name), text);
  const policyFile = path.join(dir, "routing-policy.yaml");
  writeFileSync(policyFile, opts.policy);
  const loaded = parsePolicy(opts.policy, policyFile);
  const db = openSqlite(path.join(dir, "orchestrator.db"), { synchronous: "NORMAL" });
  const ledger = sqliteLedger({ db });
  const budgets = new SqliteBudgetStore(db);
  const killSwitch = new KillSwitch(false);
  const sleeps: number[] = [];
  const built = routerPolicy(loaded, opts.credentials ?? (() => "test-key-not-a-secret"));
  const wrap = opts.wrapProvider;
  const state = wrap ? { ...built, providers: new Map([...built.providers].map(([n, p]) => [n, wrap(p)])) } : built;
  const router = new ModelRouter({
    policy: () => state,
    budgets,
    recorder: new LedgerModelCallRecorder(ledger, { ledger, commitWith: budgets.commitWith }),
    killSwitch,
    sleep: async (ms) => void sleeps.push(ms),
    random: () => 0.5,
    ...opts.deps,
  });
  return {
    router,
    ledger,
    db,
    budgets,
    killSwitch,
    sleeps,
    dir,
    newRun: () => seedRun(ledger, loaded.version),
    async modelCalls(runId) {
      return (await ledger.entries(runId)).filter((e) => e.type === "model_call").map((e) => e.payload);
    },
    close() {
      budgets.flush();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A policy with one scripted model and the given limits. */
export function scriptedPolicy(extra = "", limits = "max_cost_per_run_usd: 10"): string {
  return `version: 1
providers:
  scripted: { kind: scripted, file: script.yaml }
models:
  demo: { provider: scripted, id: demo, price_per_1m: { input: 1000, output: 1000 } }
sensitivity:
  default: internal
  levels:
    internal: { approved_providers: [scripted], disallowed_data_classes: [customer_data] }
    confidential: { approved_providers: [scripted], disallowed_data_classes: [secrets, pii] }
rules:
  - model: demo
limits:
  ${limits}
${extra}`;
}

export const script = `responses:
  - text: "scripted answer"
    usage: { input_tokens: 10, output_tokens: 5 }
`;
