// Routes authenticated GitHub deliveries through the App's Probot handlers (`app.on`) to the GitHub normaliser.
import type { Probot } from "probot";
import { githubEventNames, normalizeGithub } from "../events/github.js";
import type { DeliveryMeta, NormalizeResult } from "../events/schema.js";

/** Normalises a GitHub delivery the way a Probot app sees it; events the App does not handle are ignored with a reason. */
export type GithubNormalizer = (delivery: { id: string; name: string; payload: unknown }, meta: DeliveryMeta) => Promise<NormalizeResult>;

export function probotNormalizer(probot: Probot): GithubNormalizer {
  // Keyed per call, not per delivery id: concurrent duplicates of one delivery must not read each other's result.
  const inFlight = new Map<string, { meta: DeliveryMeta; result?: NormalizeResult }>();
  let seq = 0;
  probot.on([...githubEventNames], async (context) => {
    const slot = inFlight.get(context.id);
    if (slot) slot.result = normalizeGithub(context.name, context.payload, slot.meta);
  });
  return async (delivery, meta) => {
    const key = `${delivery.id}#${++seq}`;
    const slot: { meta: DeliveryMeta; result?: NormalizeResult } = { meta };
    inFlight.set(key, slot);
    try {
      // Probot types `name` as a known event name; others simply reach no handler.
      await probot.receive({ id: key, name: delivery.name, payload: delivery.payload } as Parameters<Probot["receive"]>[0]);
    } finally {
      inFlight.delete(key);
    }
    return slot.result ?? { status: "ignored", reason: `GitHub event "${delivery.name}" is not one the orchestrator acts on` };
  };
}
