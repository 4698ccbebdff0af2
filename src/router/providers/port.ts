// The ModelProvider port: one chat call (whole or streamed) against one provider, with errors that say whether to retry.
import { z } from "zod";

export const ChatMessage = z.strictObject({
  role: z.enum(["system", "user", "assistant"]),
  content: z.string(),
});
export type ChatMessage = z.infer<typeof ChatMessage>;

export interface ModelRequest {
  /** The provider's own model id (Bedrock model id, OpenAI model, Azure deployment). */
  readonly modelId: string;
  readonly messages: readonly ChatMessage[];
  readonly maxTokens: number;
  readonly temperature?: number;
  readonly signal?: AbortSignal;
}

export interface Usage {
  readonly inputTokens: number;
  readonly outputTokens: number;
}

/** OpenAI's vocabulary, which the gateway speaks; each provider maps its own onto it. */
export type FinishReason = "stop" | "length" | "content_filter";

export interface ModelResponse {
  readonly text: string;
  readonly finishReason: FinishReason;
  readonly usage: Usage;
}

export type StreamEvent =
  | { readonly type: "text"; readonly text: string }
  | { readonly type: "end"; readonly finishReason: FinishReason; readonly usage: Usage };

export interface ModelProvider {
  /** The provider's name in the policy. */
  readonly name: string;
  complete(req: ModelRequest): Promise<ModelResponse>;
  stream(req: ModelRequest): AsyncIterable<StreamEvent>;
}

/** A failed provider call. `retryable`: throttling or a server fault, worth another attempt after a pause. */
export class ProviderError extends Error {
  constructor(
    readonly provider: string,
    readonly code: string,
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
    /** From Retry-After / retry-after-ms, when the provider said how long to wait. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = "ProviderError";
  }
}

/** 408, 409 (OpenAI lock timeouts), 429, 5xx and 529 (Anthropic overloaded) are worth retrying. */
export function retryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

/** A rough, deliberately high token count (3 characters a token) for reserving budget before a call. */
export function estimateTokens(messages: readonly ChatMessage[]): number {
  let chars = 0;
  for (const m of messages) chars += m.content.length;
  return estimateTextTokens(chars) + 4 * messages.length;
}

/** The same estimate for `chars` characters of bare text (e.g. what a stream delivered before it stopped). */
export function estimateTextTokens(chars: number): number {
  return Math.ceil(chars / 3);
}
