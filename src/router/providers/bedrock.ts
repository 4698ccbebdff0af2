// ModelProvider for Amazon Bedrock's Converse / ConverseStream API, over @aws-sdk/client-bedrock-runtime.
import {
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  type ContentBlock,
  type Message,
  type SystemContentBlock,
} from "@aws-sdk/client-bedrock-runtime";
import { ProviderError, type FinishReason, type ModelProvider, type ModelRequest, type ModelResponse, type StreamEvent } from "./port.js";

export interface BedrockOptions {
  readonly name: string;
  readonly region: string;
  readonly endpoint?: string;
  /** For tests; production uses the default credential chain (ECS task role, profile, env). */
  readonly client?: BedrockRuntimeClient;
}

/** Exceptions AWS documents as transient for Converse. */
const transient = new Set([
  "ThrottlingException",
  "ServiceUnavailableException",
  "InternalServerException",
  "ModelNotReadyException",
  "ModelTimeoutException",
  "ModelStreamErrorException",
]);

export class BedrockProvider implements ModelProvider {
  readonly name: string;
  private readonly client: BedrockRuntimeClient;

  constructor(o: BedrockOptions) {
    this.name = o.name;
    // maxAttempts 1: the router's retry policy (with fallbacks and ledger entries per attempt) governs retries.
    this.client = o.client ?? new BedrockRuntimeClient({ region: o.region, ...(o.endpoint ? { endpoint: o.endpoint } : {}), maxAttempts: 1 });
  }

  async complete(req: ModelRequest): Promise<ModelResponse> {
    try {
      const out = await this.client.send(new ConverseCommand(this.input(req)), { abortSignal: req.signal });
      const text = (out.output?.message?.content ?? []).map((b: ContentBlock) => b.text ?? "").join("");
      return {
        text,
        finishReason: finish(out.stopReason),
        usage: { inputTokens: out.usage?.inputTokens ?? 0, outputTokens: out.usage?.outputTokens ?? 0 },
      };
    } catch (err) {
      throw this.error(err);
    }
  }

  async *stream(req: ModelRequest): AsyncGenerator<StreamEvent> {
    let reason: FinishReason = "stop";
    let usage = { inputTokens: 0, outputTokens: 0 };
    try {
      const out = await this.client.send(new ConverseStreamCommand(this.input(req)), { abortSignal: req.signal });
      for await (const ev of out.stream ?? []) {
        if (ev.contentBlockDelta?.delta && "text" in ev.contentBlockDelta.delta && ev.contentBlockDelta.delta.text)
          yield { type: "text", text: ev.contentBlockDelta.delta.text };
        else if (ev.messageStop) reason = finish(ev.messageStop.stopReason);
        else if (ev.metadata?.usage) usage = { inputTokens: ev.metadata.usage.inputTokens ?? 0, outputTokens: ev.metadata.usage.outputTokens ?? 0 };
        else {
          const fault = ev.throttlingException ?? ev.serviceUnavailableException ?? ev.internalServerException ?? ev.modelStreamErrorException ?? ev.validationException;
          if (fault) throw fault;
        }
      }
    } catch (err) {
      throw this.error(err);
    }
    yield { type: "end", finishReason: reason, usage };
  }

  private input(req: ModelRequest) {
    const system: SystemContentBlock[] = req.messages.filter((m) => m.role === "system").map((m) => ({ text: m.content }));
    const messages: Message[] = req.messages
      .filter((m) => m.role !== "system")
      .map((m) => ({ role: m.role === "assistant" ? "assistant" : "user", content: [{ text: m.content }] }));
    return {
      modelId: req.modelId,
      messages,
      ...(system.length ? { system } : {}),
      inferenceConfig: { maxTokens: req.maxTokens, ...(req.temperature === undefined ? {} : { temperature: req.temperature }) },
    };
  }

  private error(err: unknown): ProviderError {
    if (err instanceof ProviderError) return err;
    const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
    const name = e.name ?? "Error";
    const status = e.$metadata?.httpStatusCode;
    const retryable = transient.has(name) || (status !== undefined && (status === 429 || status >= 500));
    return new ProviderError(this.name, name, `${this.name}: ${name}: ${e.message ?? "Bedrock call failed"}`, retryable, status);
  }
}

function finish(r: string | undefined): FinishReason {
  return r === "max_tokens" ? "length" : r === "guardrail_intervened" || r === "content_filtered" ? "content_filter" : "stop";
}
