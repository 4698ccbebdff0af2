// The model gateway for agents: OpenAI-compatible /v1/chat/completions (with SSE streaming) and /v1/models behind run-scoped tokens.
import { randomUUID } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { HttpError } from "../handlers/http-error.js";
import type { HttpEdge } from "../handlers/server.js";
import type { GatewayClaims, GatewayTokens } from "./gateway-token.js";
import type { ChatMessage, FinishReason } from "./providers/port.js";
import { ModelCallFailed, ModelCallRefused, type ModelCallRequest, type ModelRouter, type RouterStreamEvent } from "./service.js";

const TextPart = z.looseObject({ type: z.literal("text"), text: z.string() });
const Message = z.looseObject({
  role: z.enum(["system", "developer", "user", "assistant"], { error: "role must be system, developer, user or assistant (tool calls are not supported)" }),
  content: z.union([z.string(), z.array(TextPart, { error: "content parts must be {type: \"text\", text}" }), z.null()]),
});

/** The subset of OpenAI's chat completion request the gateway honours; unknown fields are ignored as OpenAI-compatible servers do. */
const ChatRequest = z.looseObject({
  model: z.string({ error: "model is required (\"auto\" picks the policy's route)" }).min(1),
  messages: z.array(Message).min(1, { error: "messages needs at least one message" }),
  max_tokens: z.number().int().positive().optional(),
  max_completion_tokens: z.number().int().positive().optional(),
  temperature: z.number().min(0).max(2).optional(),
  stream: z.boolean().optional(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullable().optional(),
});

export interface GatewayOptions {
  readonly router: ModelRouter;
  readonly tokens: GatewayTokens;
}

export function modelGateway(o: GatewayOptions): HttpEdge {
  return {
    name: "model-gateway",
    register(app: FastifyInstance) {
      // Both under /v1 and /runs/<run id>/v1: an agent given the latter as its base URL cannot use another run's token.
      for (const prefix of ["", "/runs/:runId"]) {
        app.get(`${prefix}/v1/models`, async (request) => {
          const claims = await authenticate(o.tokens, request);
          const d = routeOf(o.router, claims);
          const models = d.allowed ? d.chain.map((c) => ({ id: c.name, object: "model", created: 0, owned_by: c.model.provider })) : [];
          return { object: "list", data: [{ id: "auto", object: "model", created: 0, owned_by: "orchestrator" }, ...models] };
        });
        app.post(`${prefix}/v1/chat/completions`, async (request, reply) => {
          const claims = await authenticate(o.tokens, request);
          const body = ChatRequest.safeParse(request.body);
          if (!body.success) {
            const i = body.error.issues[0]!;
            throw new HttpError(400, "invalid_request", `${i.path.join(".") || "body"}: ${i.message}`);
          }
          const req = toModelCall(claims, body.data, reply);
          return body.data.stream ? streamed(o.router, req, body.data.stream_options?.include_usage === true, reply) : whole(o.router, req);
        });
      }
    },
  };
}

function routeOf(router: ModelRouter, claims: GatewayClaims) {
  try {
    return router.route({ role: claims.role, runType: claims.run_type, repo: claims.repo, sensitivity: claims.sensitivity });
  } catch (err) {
    return toHttpError(err);
  }
}

async function authenticate(tokens: GatewayTokens, request: FastifyRequest): Promise<GatewayClaims> {
  const auth = request.headers.authorization;
  const m = auth ? /^Bearer\s+(\S+)$/i.exec(auth) : null;
  if (!m) throw new HttpError(401, "unauthorized", "Send the run's gateway token as Authorization: Bearer <token>.");
  const v = await tokens.verify(m[1]!);
  if (!v.ok) throw new HttpError(401, "unauthorized", v.reason);
  const pathRun = (request.params as { runId?: string }).runId;
  if (pathRun !== undefined && pathRun !== v.claims.run_id) throw new HttpError(403, "wrong_run", `This token is for run ${v.claims.run_id}, not ${pathRun}.`);
  return v.claims;
}

function toModelCall(claims: GatewayClaims, body: z.infer<typeof ChatRequest>, reply: FastifyReply): ModelCallRequest {
  const messages: ChatMessage[] = body.messages.map((m) => ({
    role: m.role === "developer" ? "system" : m.role,
    content: typeof m.content === "string" ? m.content : m.content === null ? "" : m.content.map((p) => p.text).join(""),
  }));
  // The client went away before the answer was written: stop the provider call.
  const abort = new AbortController();
  reply.raw.once("close", () => {
    if (!reply.raw.writableFinished) abort.abort();
  });
  return {
    runId: claims.run_id,
    role: claims.role,
    runType: claims.run_type,
    repo: claims.repo,
    sensitivity: claims.sensitivity,
    messages,
    maxTokens: body.max_completion_tokens ?? body.max_tokens,
    temperature: body.temperature,
    model: body.model,
    via: "gateway",
    signal: abort.signal,
  };
}

async function whole(router: ModelRouter, req: ModelCallRequest) {
  const r = await router.complete(req).catch(toHttpError);
  return {
    id: `chatcmpl-${randomUUID()}`,
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model: r.model,
    choices: [{ index: 0, message: { role: "assistant", content: r.text }, finish_reason: r.finishReason, logprobs: null }],
    usage: usage(r.usage),
  };
}

/** SSE: `data: {chunk}` events, a final chunk with finish_reason (and usage if asked), then `data: [DONE]`. */
async function streamed(router: ModelRouter, req: ModelCallRequest, includeUsage: boolean, reply: FastifyReply): Promise<void> {
  const events = router.stream(req);
  // The first event decides the status: a refusal or total failure is still an ordinary 4xx/5xx.
  const first = await events.next().catch(toHttpError);
  const id = `chatcmpl-${randomUUID()}`;
  const created = Math.floor(Date.now() / 1000);
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", connection: "keep-alive", "x-accel-buffering": "no" });
  const send = (data: unknown) => res.write(`data: ${JSON.stringify(data)}\n\n`);
  const chunk = (model: string, delta: Record<string, string>, finish: FinishReason | null) => ({
    id,
    object: "chat.completion.chunk",
    created,
    model,
    choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
  });
  let roleSent = false;
  const handle = (ev: RouterStreamEvent) => {
    if (ev.type === "text") {
      send(chunk(ev.model, roleSent ? { content: ev.text } : { role: "assistant", content: ev.text }, null));
      roleSent = true;
    } else {
      send(chunk(ev.result.model, {}, ev.result.finishReason));
      if (includeUsage) send({ id, object: "chat.completion.chunk", created, model: ev.result.model, choices: [], usage: usage(ev.result.usage) });
    }
  };
  try {
    if (!first.done) handle(first.value);
    for await (const ev of events) handle(ev);
    res.write("data: [DONE]\n\n");
  } catch (err) {
    // Headers are gone; the error travels as an event, as OpenAI-compatible servers do.
    send({ error: { message: err instanceof Error ? err.message : String(err), type: "upstream_error", code: "stream_failed" } });
  } finally {
    res.end();
  }
}

function usage(u: { inputTokens: number; outputTokens: number }) {
  return { prompt_tokens: u.inputTokens, completion_tokens: u.outputTokens, total_tokens: u.inputTokens + u.outputTokens };
}

function toHttpError(err: unknown): never {
  if (err instanceof ModelCallRefused) throw new HttpError(403, `refused_${err.code}`, err.reason);
  if (err instanceof ModelCallFailed) throw new HttpError(502, "upstream_failed", err.message);
  throw err;
}
