// ModelProvider for the Anthropic Messages API (x-api-key, anthropic-version; system prompt as a top-level field).
import { z } from "zod";
import { parse, postJson, sseEvents } from "./http.js";
import { ProviderError, type FinishReason, type ModelProvider, type ModelRequest, type ModelResponse, type StreamEvent } from "./port.js";

export interface AnthropicOptions {
  readonly name: string;
  readonly baseUrl: string;
  readonly apiKey: string;
  readonly version: string;
}

const Message = z.object({
  content: z.array(z.object({ type: z.string(), text: z.string().optional() })),
  stop_reason: z.string().nullable().optional(),
  usage: z.object({ input_tokens: z.number(), output_tokens: z.number() }),
});
const Event = z.object({
  type: z.string(),
  message: z.object({ usage: z.object({ input_tokens: z.number(), output_tokens: z.number().optional() }) }).optional(),
  delta: z.object({ type: z.string().optional(), text: z.string().optional(), stop_reason: z.string().nullable().optional() }).optional(),
  usage: z.object({ output_tokens: z.number() }).optional(),
  error: z.object({ type: z.string(), message: z.string() }).optional(),
});

export class AnthropicProvider implements ModelProvider {
  readonly name: string;

  constructor(private readonly o: AnthropicOptions) {
    this.name = o.name;
  }

  async complete(req: ModelRequest): Promise<ModelResponse> {
    const body = parse(this.name, Message, await (await this.post(req, false)).json());
    return {
      text: body.content.map((b) => (b.type === "text" ? (b.text ?? "") : "")).join(""),
      finishReason: finish(body.stop_reason),
      usage: { inputTokens: body.usage.input_tokens, outputTokens: body.usage.output_tokens },
    };
  }

  async *stream(req: ModelRequest): AsyncGenerator<StreamEvent> {
    const res = await this.post(req, true);
    let input = 0;
    let output = 0;
    let reason: FinishReason = "stop";
    for await (const ev of sseEvents(res)) {
      const e = parse(this.name, Event, JSON.parse(ev.data));
      if (e.type === "message_start" && e.message) input = e.message.usage.input_tokens;
      else if (e.type === "content_block_delta" && e.delta?.type === "text_delta" && e.delta.text) yield { type: "text", text: e.delta.text };
      else if (e.type === "message_delta") {
        if (e.usage) output = e.usage.output_tokens;
        if (e.delta?.stop_reason) reason = finish(e.delta.stop_reason);
      } else if (e.type === "error" && e.error) {
        // Mid-stream errors (e.g. overloaded_error) arrive as an event after a 200.
        throw new ProviderError(this.name, e.error.type, `${this.name}: ${e.error.message}`, e.error.type === "overloaded_error" || e.error.type === "api_error");
      }
    }
    yield { type: "end", finishReason: reason, usage: { inputTokens: input, outputTokens: output } };
  }

  private post(req: ModelRequest, stream: boolean): Promise<Response> {
    const system = req.messages.filter((m) => m.role === "system").map((m) => m.content).join("\n\n");
    return postJson({
      provider: this.name,
      url: `${this.o.baseUrl.replace(/\/+$/, "")}/v1/messages`,
      headers: { "x-api-key": this.o.apiKey, "anthropic-version": this.o.version },
      signal: req.signal,
      body: {
        model: req.modelId,
        max_tokens: req.maxTokens,
        ...(system ? { system } : {}),
        messages: req.messages.filter((m) => m.role !== "system").map((m) => ({ role: m.role, content: m.content })),
        ...(req.temperature === undefined ? {} : { temperature: req.temperature }),
        ...(stream ? { stream: true } : {}),
      },
    });
  }
}

function finish(r: string | null | undefined): FinishReason {
  return r === "max_tokens" ? "length" : r === "refusal" ? "content_filter" : "stop";
}
