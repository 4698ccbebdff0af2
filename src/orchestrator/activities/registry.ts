// The activity registry: one implementation per activity name, looked up by both engines and the dispatcher Lambda.
import { ActivityName } from "../workflows/schema.js";
import { ActivityError, UNAVAILABLE_ERROR, type Activity } from "./port.js";

export class ActivityRegistry {
  private readonly impls = new Map<ActivityName, Activity>();

  constructor(impls: Partial<Record<ActivityName, Activity>> = {}) {
    for (const [name, fn] of Object.entries(impls) as [ActivityName, Activity][]) this.register(name, fn);
  }

  /** Replaces the implementation of `name`. */
  register(name: ActivityName, fn: Activity): this {
    this.impls.set(ActivityName.parse(name), fn);
    return this;
  }

  get(name: ActivityName): Activity {
    const fn = this.impls.get(name);
    if (!fn) return unavailable(`the ${name} activity (nothing is registered for it)`);
    return fn;
  }
}

/** An activity that fails at once, naming what is missing, so a run reports it instead of pretending to work. */
export function unavailable(what: string): Activity {
  return async () => {
    throw new ActivityError(UNAVAILABLE_ERROR, `not available yet: ${what}`);
  };
}

/**
 * The production activities. Each real implementation (agents, gates, forge publishing,
 * reporting) replaces its entry when it lands; until then a run fails at that step with a
 * clear reason and its failure report says so.
 */
export function defaultActivities(): ActivityRegistry {
  return new ActivityRegistry({
    plan: unavailable("the planner agent (agent runtime)"),
    build: unavailable("the builder agent (agent runtime)"),
    verify: unavailable("the verification gates"),
    publish: unavailable("publishing the branch, PR/MR and evidence comment to the forge"),
    await_approvals: unavailable("posting the approval checklist to the forge"),
    report: unavailable("reporting run status to the PR/MR and Jira"),
  });
}
