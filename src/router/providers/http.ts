// HTTP for the fetch-based providers: POST JSON, turn error responses into ProviderError, read server-sent events.
import type { z } from "zod";
import { ProviderError, retryableStatus } from "./port.js";

export interface PostOptions {
  readonly provider: string;
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body: unknown;
  readonly signal?: AbortSignal;
  /** Connect + first byte; a stalled provider counts as a retryable fault. */
  readonly timeoutMs?: number;
}

/** POSTs and returns the response if 2xx; otherwise throws ProviderError with the provider's own error message. */
export async function postJson(o: PostOptions): Promise<Response> {
  const signals = [AbortSignal.timeout(o.timeoutMs ?? 120_000), ...(o.signal ? [o.signal] : [])];
  let res: Response;
  try {
    res = await fetch(o.url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...o.headers },
      body: JSON.stringify(o.body),
      signal: AbortSignal.any(signals),
    });
  } catch (err) {
    const e = err as Error;
    const timeout = e.name === "TimeoutError";
    throw new ProviderError(o.provider, timeout ? "timeout" : "network_error", `${o.provider}: ${timeout ? "timed out" : e.message}`, e.name !== "AbortError");
  }
  if (res.ok) return res;
  const text = await res.text().catch(() => "");
  throw new ProviderError(
    o.provider,
    errorCode(text) ?? `http_${res.status}`,
    `${o.provider}: HTTP ${res.status}: ${errorMessage(text) ?? res.statusText}`,
    retryableStatus(res.status),
    res.status,
    retryAfterMs(res.headers),
  );
}

/** Retry-After (seconds or an HTTP date) or OpenAI's retry-after-ms. */
export function retryAfterMs(h: Headers): number | undefined {
  const ms = h.get("retry-after-ms");
  if (ms && Number.isFinite(Number(ms))) return Number(ms);
  const ra = h.get("retry-after");
  if (!ra) return undefined;
  if (/^\d+(\.\d+)?$/.test(ra.trim())) return Number(ra) * 1000;
  const at = Date.parse(ra);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** OpenAI `{error:{message,code,type}}`, Anthropic `{type:"error",error:{type,message}}`. */
function parsedError(text: string): { message?: string; code?: string; type?: string } | undefined {
  try {
    const body = JSON.parse(text) as { error?: { message?: string; code?: string; type?: string } | string; message?: string };
    if (typeof body.error === "object" && body.error) return body.error;
    if (typeof body.error === "string") return { message: body.error };
    if (typeof body.message === "string") return { message: body.message };
  } catch {
    // not JSON: the status line says enough
  }
  return undefined;
}

function errorMessage(text: string): string | undefined {
  return parsedError(text)?.message?.slice(0, 300);
}

function errorCode(text: string): string | undefined {
  const e = parsedError(text);
  return e?.code ?? e?.type;
}

/** The `data:` payloads of a server-sent event stream, one per event (`event:` names kept for Anthropic). */
export async function* sseEvents(res: Response): AsyncGenerator<{ event?: string; data: string }> {
  if (!res.body) return;
  const decoder = new TextDecoder();
  let buf = "";
  let event: string | undefined;
  let data: string[] = [];
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buf += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl).replace(/\r$/, "");
      buf = buf.slice(nl + 1);
      if (line === "") {
        if (data.length > 0) yield { event, data: data.join("\n") };
        event = undefined;
        data = [];
      } else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      else if (line.startsWith("event:")) event = line.slice(6).trim();
    }
  }
  if (data.length > 0) yield { event, data: data.join("\n") };
}

/** A response that does not have the documented shape is a provider fault (retryable), not a crash. */
export function parse<T>(provider: string, schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body);
  if (!r.success) throw new ProviderError(provider, "bad_response", `${provider}: unexpected response shape: ${r.error.issues[0]?.message ?? ""}`, true);
  return r.data;
}
