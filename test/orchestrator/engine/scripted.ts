// Scripted activities for engine tests: each step follows a per-scenario script and every call is recorded.
import { ActivityError, type ActivityCall, type JsonObject } from "../../../src/orchestrator/activities/port.js";
import { ActivityRegistry } from "../../../src/orchestrator/activities/registry.js";
import { ActivityName } from "../../../src/orchestrator/workflows/schema.js";

/** What one call of a step does: succeed, fail with an error name, or hang until aborted (or `ms` pass). */
export type Behavior = "ok" | { readonly fail: string } | { readonly hang: number } | { readonly output: JsonObject };

/** step id → behaviour of its 1st, 2nd, … call; steps not listed succeed. */
export type Script = Readonly<Record<string, readonly Behavior[]>>;

export interface Call {
  readonly runId: string;
  readonly stepId: string;
  readonly attempt: number;
  readonly attemptKey: string;
  readonly outcome: string;
}

/** One script per scenario; a run picks its scenario by its request's `trigger`. */
export class ScriptedActivities {
  readonly calls: Call[] = [];
  private readonly counts = new Map<string, number>();
  /** Called on every call (e.g. to count concurrency); resolve to let the call continue. */
  gate: ((call: ActivityCall) => Promise<void>) | undefined;

  constructor(private readonly scripts: Readonly<Record<string, Script>> = {}) {}

  registry(): ActivityRegistry {
    const reg = new ActivityRegistry();
    for (const name of ActivityName.options) reg.register(name, (call) => this.perform(call));
    return reg;
  }

  /** The behaviour for this call; counts calls per (run, step). */
  next(runId: string, scenario: string, stepId: string): Behavior {
    const key = `${runId}/${stepId}`;
    const n = this.counts.get(key) ?? 0;
    this.counts.set(key, n + 1);
    return this.scripts[scenario]?.[stepId]?.[n] ?? "ok";
  }

  async perform(call: ActivityCall): Promise<JsonObject> {
    await this.gate?.(call);
    const b = this.next(call.runId, call.state.run.trigger, call.stepId);
    const record = (outcome: string) => this.calls.push({ runId: call.runId, stepId: call.stepId, attempt: call.attempt, attemptKey: call.attemptKey, outcome });
    if (b === "ok" || "output" in b) {
      record("ok");
      return b === "ok" ? { done: call.stepId } : b.output;
    }
    if ("fail" in b) {
      record(b.fail);
      throw new ActivityError(b.fail, `scripted failure of ${call.stepId}`);
    }
    record("hang");
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, b.hang);
      call.signal.addEventListener("abort", () => (clearTimeout(t), resolve()), { once: true });
    });
    throw new ActivityError("Test.Hung", "hung");
  }

  /** `step:outcome` for one run, in call order. */
  trace(runId: string): string[] {
    return this.calls.filter((c) => c.runId === runId).map((c) => `${c.stepId}:${c.outcome}`);
  }
}
