// ModelProvider for OpenAI-style chat completions: OpenAI, Azure OpenAI, vLLM, Ollama, LiteLLM.
import { z } from "zod";
import { parse, postJson, sseEvents } from "./http.js";
import { type FinishReason, type ModelProvider, type ModelRequest, type ModelResponse, type StreamEvent } from "./port.js";

export interface OpenAiCompatibleOptions {
  readonly name: string;
  /** e.g. https://api.openai.com/v1, http://localhost:11434/v1 (Ollama), http://vllm:8000/v1; Azure: https://NAME.openai.azure.com */
  readonly baseUrl: string;
  readonly apiKey?: string;
  /** Azure OpenAI: deployments path, api-version query and api-key header. */
  readonly azureApiVersion?: string;
}

// Only the fields we read; servers differ in the rest.
const Completion = z.object({
  choices: z.array(z.object({ message: z.object({ content: z.string().nullable().optional() }), finish_reason: z.string().nullable().optional() })).min(1),
  usage: z.object({ prompt_tokens: z.number(), completion_tokens: z.number() }).optional(),
});
const Chunk = z.object({
  choices: z.array(z.object({ delta: z.object({ content: z.string().nullable().optional() }).optional(), finish_reason: z.string().nullable().optional() })).default([]),
  usage: z.object({ prompt_tokens: z.number(), completion_tokens: z.number() }).nullable().optional(),
});

export class OpenAiCompatibleProvider implements ModelProvider {
  readonly name: string;

  constructor(private readonly o: OpenAiCompatibleOptions) {
    this.name = o.name;
  }

  async complete(req: ModelRequest): Promise<ModelResponse> {
    const res = await this.post(req, false);
    const body = parse(this.name, Completion, await res.json());
    const choice = body.choices[0]!;
    return {
      text: choice.message.content ?? "",
      finishReason: finish(choice.finish_reason),
      usage: { inputTokens: body.usage?.prompt_tokens ?? 0, outputTokens: body.usage?.completion_tokens ?? 0 },
    };
  }

  async *stream(req: ModelRequest): AsyncGenerator<StreamEvent> {
    const res = await this.post(req, true);
    let reason: FinishReason = "stop";
    let usage = { inputTokens: 0, outputTokens: 0 };
    for await (const ev of sseEvents(res)) {
      if (ev.data === "[DONE]") break;
      const chunk = parse(this.name, Chunk, JSON.parse(ev.data));
      for (const c of chunk.choices) {
        if (c.delta?.content) yield { type: "text", text: c.delta.content };
        if (c.finish_reason) reason = finish(c.finish_reason);
      }
      if (chunk.usage) usage = { inputTokens: chunk.usage.prompt_tokens, outputTokens: chunk.usage.completion_tokens };
    }
    yield { type: "end", finishReason: reason, usage };
  }

  private post(req: ModelRequest, stream: boolean): Promise<Response> {
    const base = this.o.baseUrl.replace(/\/+$/, "");
    const azure = this.o.azureApiVersion;
    const url = azure
      ? `${base}/openai/deployments/${encodeURIComponent(req.modelId)}/chat/completions?api-version=${encodeURIComponent(azure)}`
      : `${base}/chat/completions`;
    const headers: Record<string, string> = {};
    if (this.o.apiKey) {
      if (azure) headers["api-key"] = this.o.apiKey;
      else headers.authorization = `Bearer ${this.o.apiKey}`;
    }
    return postJson({
      provider: this.name,
      url,
      headers,
      signal: req.signal,
      body: {
        ...(azure ? {} : { model: req.modelId }),
        messages: req.messages,
        max_tokens: req.maxTokens,
        ...(req.temperature === undefined ? {} : { temperature: req.temperature }),
        ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
      },
    });
  }
}

function finish(r: string | null | undefined): FinishReason {
  return r === "length" ? "length" : r === "content_filter" ? "content_filter" : "stop";
}
