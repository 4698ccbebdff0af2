// The HTTP server: health, readiness, metrics and the uniform JSON error shape; edges add routes.
import { randomUUID } from "node:crypto";
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from "fastify";
import { collectDefaultMetrics, Histogram, Registry } from "prom-client";
import type { Logger } from "../log.js";
import { HttpError } from "./http-error.js";

/** Something /readyz checks: throws with a reason when not ready. */
export interface ReadinessCheck {
  readonly name: string;
  check(): Promise<void>;
}

/** An inbound edge (a webhook receiver, the API, the model gateway) that adds its routes. */
export interface HttpEdge {
  readonly name: string;
  register(app: FastifyInstance): Promise<void> | void;
}

export interface HttpServerOptions {
  readonly logger: Logger;
  readonly bodyLimitBytes: number;
  readonly metrics: boolean;
  readonly edges: readonly HttpEdge[];
  readonly readiness: readonly ReadinessCheck[];
}

/** Headers forges put their delivery id in; the request id (and so every log line) carries it. */
const deliveryIdHeaders = ["x-github-delivery", "x-gitlab-event-uuid", "idempotency-key", "x-atlassian-webhook-identifier"];

export async function createHttpServer(opts: HttpServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: opts.logger as FastifyBaseLogger,
    bodyLimit: opts.bodyLimitBytes,
    logController: new LogController({ requestIdLogLabel: "req_id", disableRequestLogging: true }),
    genReqId: (req) => {
      for (const h of deliveryIdHeaders) {
        const v = req.headers[h];
        if (typeof v === "string" && v.length > 0 && v.length <= 200) return v;
      }
      return randomUUID();
    },
    forceCloseConnections: "idle",
    return503OnClosing: true,
  });

  app.setErrorHandler((err: FastifyError | HttpError, request, reply) => {
    const { status, body } = toErrorBody(err, opts.bodyLimitBytes, request.headers["content-type"]);
    if (status >= 500) request.log.error({ err }, "request failed");
    else request.log.info({ status, error: body.error, url: request.url }, body.message);
    void reply.status(status).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({
      error: "not_found",
      message: `No route for ${request.method} ${request.url.split("?")[0]}. See the README for the server's routes.`,
    });
  });

  // On close, connections kept alive are shut as soon as their in-flight request is answered,
  // instead of lingering for the keep-alive timeout and delaying shutdown by seconds.
  app.addHook("preClose", (done) => {
    app.server.keepAliveTimeout = 1;
    done();
  });

  if (opts.metrics) registerMetrics(app);

  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async (_request, reply) => {
    const results = await Promise.all(
      opts.readiness.map(async (c) => {
        try {
          await c.check();
          return [c.name, "ok"] as const;
        } catch (err) {
          return [c.name, err instanceof Error ? err.message : String(err)] as const;
        }
      }),
    );
    const ready = results.every(([, r]) => r === "ok");
    return reply.status(ready ? 200 : 503).send({ status: ready ? "ready" : "not_ready", checks: Object.fromEntries(results) });
  });

  for (const edge of opts.edges) await app.register(async (scope) => edge.register(scope));
  return app;
}

function registerMetrics(app: FastifyInstance): void {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const duration = new Histogram({
    name: "http_request_duration_seconds",
    help: "HTTP request latency by route and status",
    labelNames: ["method", "route", "status"],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  // Callback style: an async hook would cost a promise on every request.
  app.addHook("onResponse", (request, reply, done) => {
    const route = request.routeOptions.url ?? "unmatched";
    duration.observe({ method: request.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
    done();
  });
  app.get("/metrics", async (_request, reply) => {
    return reply.type(registry.contentType).send(await registry.metrics());
  });
}

interface ErrorBody {
  error: string;
  message: string;
}

/** Turns any thrown error into a status and a body whose message says what to fix. */
function toErrorBody(err: FastifyError | HttpError, bodyLimit: number, contentType: string | undefined): { status: number; body: ErrorBody } {
  if (err instanceof HttpError) return { status: err.statusCode, body: { error: err.code, message: err.message } };
  switch (err.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return {
        status: 413,
        body: { error: "payload_too_large", message: `Body is larger than the limit of ${bodyLimit} bytes (WEBHOOK_BODY_LIMIT).` },
      };
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return {
        status: 415,
        body: {
          error: "unsupported_media_type",
          message:
            `Content-Type ${contentType ? JSON.stringify(contentType) : "(none)"} is not accepted; send JSON with Content-Type: application/json ` +
            "(on a GitHub webhook set \"Content type\" to application/json).",
        },
      };
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      return { status: 400, body: { error: "invalid_json", message: `Body is not valid JSON: ${err.message}` } };
  }
  const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
  return status === 500
    ? { status, body: { error: "internal_error", message: "Internal error; the server log has the details under this request's id." } }
    : { status, body: { error: err.code ?? "bad_request", message: err.message } };
}
