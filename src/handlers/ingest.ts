// The real DeliverySink: normalise, record durably (deduplicated), then answer; processing happens in the background.
import { normalize, sha256Hex } from "../events/index.js";
import type { DeliveryMeta, Event } from "../events/schema.js";
import type { DeliveryQueue } from "../orchestrator/intake/delivery-queue.js";
import { HttpError } from "./http-error.js";
import type { DeliveryAck, DeliverySink, WebhookDelivery } from "./webhook-route.js";

export interface IngestOptions {
  readonly queue: DeliveryQueue;
  /** Why an event cannot start anything (decided without forge calls), or null: such events are recorded as ignored. */
  readonly screen?: (event: Event) => string | null;
}

/**
 * Every vendor's delivery goes through its pure normaliser here, GitHub's included. GitHub
 * deliveries do not go through Probot's `receive` on this path: it builds an installation
 * Octokit for every delivery (its webhook context), which the acknowledgement never uses and
 * which cost about as much as the normaliser and the durable insert together. The App's Probot
 * is where the background worker gets its authenticated GitHub clients.
 */
export function ingestSink(opts: IngestOptions): DeliverySink {
  return {
    async accept(d: WebhookDelivery): Promise<DeliveryAck> {
      const meta: DeliveryMeta = { deliveryId: d.id, receivedAt: d.receivedAt, rawSha256: sha256Hex(d.rawBody) };
      const result = normalize(d.source, d.name, d.payload, meta);
      if (result.status === "invalid") throw new HttpError(400, "invalid_payload", result.message);
      const skip = result.status === "event" ? (opts.screen?.(result.event) ?? null) : result.reason;
      const recorded = await opts.queue.record({
        source: d.source,
        deliveryId: d.id,
        eventName: d.name,
        receivedAt: d.receivedAt,
        rawSha256: meta.rawSha256,
        event: result.status === "event" && skip === null ? result.event : null,
        ignoredReason: skip,
      });
      if (recorded === "duplicate") return { status: "duplicate", reason: `delivery ${d.id} was already received` };
      if (skip !== null) return { status: "ignored", reason: skip };
      return { status: "accepted" };
    },
  };
}
