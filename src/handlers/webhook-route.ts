// The one shape every forge webhook takes: authenticate the raw body, parse it, hand it to the sink, answer 202.
import type { FastifyInstance, FastifyRequest } from "fastify";
import { HttpError } from "./http-error.js";
import type { HttpEdge } from "./server.js";

export type WebhookSource = "github" | "gitlab" | "jira";

/** An authenticated vendor delivery, before normalisation. */
export interface WebhookDelivery {
  readonly source: WebhookSource;
  /** The vendor's delivery id (GitHub X-GitHub-Delivery, GitLab Idempotency-Key/X-Gitlab-Event-UUID, Jira X-Atlassian-Webhook-Identifier). */
  readonly id: string;
  /** The vendor's event name (GitHub X-GitHub-Event, GitLab X-Gitlab-Event, Jira webhookEvent). */
  readonly name: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly rawBody: Buffer;
  readonly payload: unknown;
  readonly receivedAt: Date;
}

export interface DeliveryAck {
  readonly status: "accepted" | "duplicate" | "ignored";
  readonly reason?: string;
}

/** Where authenticated deliveries go; the ingestion pipeline implements it. */
export interface DeliverySink {
  accept(delivery: WebhookDelivery): Promise<DeliveryAck>;
}

/** What differs between vendors: how a request proves it is theirs and how it names itself. */
export interface WebhookVendor {
  readonly source: WebhookSource;
  readonly path: string;
  /** Throws HttpError(401) when the request is not signed/authenticated by the vendor. */
  authenticate(request: FastifyRequest, rawBody: Buffer): void | Promise<void>;
  /** The delivery id and event name; throws HttpError(400) when the vendor's headers are missing. */
  identify(request: FastifyRequest, payload: unknown, rawBody: Buffer): { id: string; name: string };
}

export function webhookEdge(vendor: WebhookVendor, sink: DeliverySink): HttpEdge {
  return {
    name: `${vendor.source} webhooks`,
    register(app: FastifyInstance) {
      // Inside this scope JSON stays raw: the signature covers the exact bytes GitHub/Jira sent.
      app.removeAllContentTypeParsers();
      // Parameters are allowed: Jira sends `application/json; charset=utf-8`.
      app.addContentTypeParser(/^application\/([\w.-]+\+)?json\s*(;.*)?$/i, { parseAs: "buffer" }, (_req, body, done) => done(null, body));
      app.post(vendor.path, async (request, reply) => {
        const rawBody = request.body instanceof Buffer ? request.body : Buffer.alloc(0);
        await vendor.authenticate(request, rawBody);
        const payload = parseJson(rawBody);
        const { id, name } = vendor.identify(request, payload, rawBody);
        const delivery: WebhookDelivery = {
          source: vendor.source,
          id,
          name,
          // Copied only if a sink reads them: the acknowledgement path does not.
          get headers() {
            return flatHeaders(request.headers);
          },
          rawBody,
          payload,
          receivedAt: new Date(),
        };
        const ack = await sink.accept(delivery);
        request.log.info({ delivery_id: id, source: vendor.source, event: name, ack: ack.status, reason: ack.reason }, "webhook delivery");
        return reply.status(202).send({ delivery_id: id, ...ack });
      });
    },
  };
}

function parseJson(raw: Buffer): unknown {
  if (raw.length === 0) throw new HttpError(400, "invalid_json", "Body is empty; the webhook must send a JSON payload.");
  try {
    return JSON.parse(raw.toString("utf8"));
  } catch (err) {
    throw new HttpError(400, "invalid_json", `Body is not valid JSON: ${(err as Error).message}`);
  }
}

function flatHeaders(headers: FastifyRequest["headers"]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(", ") : v;
  return out;
}

/** A header's value, the first when repeated; undefined when absent or empty. */
export function optionalHeader(request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name.toLowerCase()];
  const s = Array.isArray(v) ? v[0] : v;
  return s ? s : undefined;
}

/** A header that must be present, as a string, or a 400 naming it. */
export function requiredHeader(request: FastifyRequest, name: string, what: string): string {
  const s = optionalHeader(request, name);
  if (!s) throw new HttpError(400, "missing_header", `Missing ${name} header (${what}).`);
  return s;
}
