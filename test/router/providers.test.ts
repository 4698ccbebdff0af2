import { BedrockRuntimeClient, ConverseCommand, ConverseStreamCommand, ThrottlingException, ValidationException } from "@aws-sdk/client-bedrock-runtime";
import { mockClient } from "aws-sdk-client-mock";
import nock from "nock";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { AnthropicProvider } from "../../src/router/providers/anthropic.js";
import { BedrockProvider } from "../../src/router/providers/bedrock.js";
import { OpenAiCompatibleProvider } from "../../src/router/providers/openai-compatible.js";
import { ProviderError, type ModelProvider, type ModelRequest, type StreamEvent } from "../../src/router/providers/port.js";
import { ScriptedProvider } from "../../src/router/providers/scripted.js";

const req: ModelRequest = {
  modelId: "m",
  messages: [
    { role: "system", content: "You are the planner." },
    { role: "user", content: "Plan the change." },
  ],
  maxTokens: 256,
  temperature: 0.2,
};

async function collect(p: ModelProvider, r: ModelRequest = req): Promise<{ text: string; end: Extract<StreamEvent, { type: "end" }> }> {
  let text = "";
  for await (const ev of p.stream(r)) {
    if (ev.type === "text") text += ev.text;
    else return { text, end: ev };
  }
  throw new Error("stream ended without an end event");
}

const sse = (events: unknown[], done = true) => events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join("") + (done ? "data: [DONE]\n\n" : "");

beforeAll(() => nock.disableNetConnect());
afterAll(() => nock.enableNetConnect());
afterEach(() => nock.cleanAll());

describe("OpenAI-compatible provider", () => {
  const openai = new OpenAiCompatibleProvider({ name: "openai", baseUrl: "https://api.openai.com/v1", apiKey: "sk-test" });

  it("posts chat completions with a bearer key and reads the documented response", async () => {
    let body: Record<string, unknown> = {};
    nock("https://api.openai.com", { reqheaders: { authorization: "Bearer sk-test" } })
      .post("/v1/chat/completions", (b: Record<string, unknown>) => ((body = b), true))
      .reply(200, {
        id: "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
        object: "chat.completion",
        created: 1741569952,
        model: "gpt-4.1-2025-04-14",
        choices: [{ index: 0, message: { role: "assistant", content: "Step 1: read the spec.", refusal: null, annotations: [] }, logprobs: null, finish_reason: "length" }],
        usage: { prompt_tokens: 19, completion_tokens: 10, total_tokens: 29, prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 } },
        service_tier: "default",
      });
    const r = await openai.complete({ ...req, modelId: "gpt-4.1" });
    expect(r).toEqual({ text: "Step 1: read the spec.", finishReason: "length", usage: { inputTokens: 19, outputTokens: 10 } });
    expect(body).toEqual({ model: "gpt-4.1", messages: req.messages, max_tokens: 256, temperature: 0.2 });
  });

  it("streams deltas and takes usage from the final chunk (stream_options.include_usage)", async () => {
    const chunk = (delta: object, finish: string | null) => ({ id: "chatcmpl-1", object: "chat.completion.chunk", created: 1, model: "gpt-4o", system_fingerprint: "fp_1", choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], usage: null });
    nock("https://api.openai.com")
      .post("/v1/chat/completions", (b: { stream?: boolean; stream_options?: object }) => b.stream === true && JSON.stringify(b.stream_options) === '{"include_usage":true}')
      .reply(200, sse([chunk({ role: "assistant", content: "", refusal: null }, null), chunk({ content: "Hel" }, null), chunk({ content: "lo" }, null), chunk({}, "stop"), { id: "chatcmpl-1", object: "chat.completion.chunk", created: 1, model: "gpt-4o", choices: [], usage: { prompt_tokens: 12, completion_tokens: 2, total_tokens: 14 } }]), { "content-type": "text/event-stream" });
    const { text, end } = await collect(openai);
    expect(text).toBe("Hello");
    expect(end).toEqual({ type: "end", finishReason: "stop", usage: { inputTokens: 12, outputTokens: 2 } });
  });

  it("Azure OpenAI: deployments path, api-version, api-key header, no model field", async () => {
    const azure = new OpenAiCompatibleProvider({ name: "azure", baseUrl: "https://acme.openai.azure.com/", apiKey: "azure-key", azureApiVersion: "2024-10-21" });
    let body: Record<string, unknown> = {};
    nock("https://acme.openai.azure.com", { reqheaders: { "api-key": "azure-key" }, badheaders: ["authorization"] })
      .post("/openai/deployments/gpt-4o-prod/chat/completions", (b: Record<string, unknown>) => ((body = b), true))
      .query({ "api-version": "2024-10-21" })
      .reply(200, { id: "x", object: "chat.completion", created: 1, model: "gpt-4o", choices: [{ index: 0, finish_reason: "content_filter", message: { role: "assistant", content: null }, content_filter_results: {} }], usage: { prompt_tokens: 5, completion_tokens: 0, total_tokens: 5 } });
    const r = await azure.complete({ ...req, modelId: "gpt-4o-prod" });
    expect(r.finishReason).toBe("content_filter");
    expect(r.text).toBe("");
    expect(body).not.toHaveProperty("model");
  });

  it("a local server without a key (Ollama / vLLM) gets no auth header", async () => {
    const ollama = new OpenAiCompatibleProvider({ name: "ollama", baseUrl: "http://127.0.0.1:11434/v1" });
    nock("http://127.0.0.1:11434", { badheaders: ["authorization", "api-key"] })
      .post("/v1/chat/completions")
      .reply(200, { id: "chatcmpl-9", object: "chat.completion", created: 1, model: "llama3.2", system_fingerprint: "fp_ollama", choices: [{ index: 0, message: { role: "assistant", content: "hi" }, finish_reason: "stop" }], usage: { prompt_tokens: 26, completion_tokens: 1, total_tokens: 27 } });
    expect((await ollama.complete(req)).text).toBe("hi");
  });

  const errors: Array<[string, number, object, Record<string, string>, Partial<ProviderError>]> = [
    ["429 with retry-after-ms", 429, { error: { message: "Rate limit reached", type: "requests", param: null, code: "rate_limit_exceeded" } }, { "retry-after-ms": "350" }, { retryable: true, status: 429, code: "rate_limit_exceeded", retryAfterMs: 350 }],
    ["429 insufficient quota", 429, { error: { message: "You exceeded your current quota", type: "insufficient_quota", param: null, code: "insufficient_quota" } }, {}, { retryable: true, code: "insufficient_quota" }],
    ["500 server error", 500, { error: { message: "The server had an error", type: "server_error", param: null, code: null } }, {}, { retryable: true, code: "server_error" }],
    ["400 bad request", 400, { error: { message: "Invalid 'messages'", type: "invalid_request_error", param: "messages", code: null } }, {}, { retryable: false, code: "invalid_request_error" }],
    ["401 bad key", 401, { error: { message: "Incorrect API key provided", type: "invalid_request_error", param: null, code: "invalid_api_key" } }, {}, { retryable: false, code: "invalid_api_key" }],
    ["502 from a proxy, not JSON", 502, {}, {}, { retryable: true, code: "http_502" }],
  ];
  it.each(errors)("maps %s to a ProviderError", async (_name, status, body, headers, expected) => {
    nock("https://api.openai.com").post("/v1/chat/completions").reply(status, status === 502 ? "<html>Bad Gateway</html>" : body, headers);
    const err = await openai.complete(req).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject(expected);
  });

  it("a response of the wrong shape is a retryable provider fault", async () => {
    nock("https://api.openai.com").post("/v1/chat/completions").reply(200, { unexpected: true });
    await expect(openai.complete(req)).rejects.toMatchObject({ code: "bad_response", retryable: true });
  });
});

describe("Anthropic provider", () => {
  const anthropic = new AnthropicProvider({ name: "anthropic", baseUrl: "https://api.anthropic.com", apiKey: "ant-key", version: "2023-06-01" });

  it("sends x-api-key, anthropic-version and the system prompt as a top-level field", async () => {
    let body: Record<string, unknown> = {};
    nock("https://api.anthropic.com", { reqheaders: { "x-api-key": "ant-key", "anthropic-version": "2023-06-01" } })
      .post("/v1/messages", (b: Record<string, unknown>) => ((body = b), true))
      .reply(200, {
        id: "msg_013Zva2CMHLNnXjNJJKqJ2EF",
        type: "message",
        role: "assistant",
        model: "claude-sonnet-4-20250514",
        content: [{ type: "text", text: "Plan: " }, { type: "text", text: "read, change, test." }],
        stop_reason: "max_tokens",
        stop_sequence: null,
        usage: { input_tokens: 2095, output_tokens: 503, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
      });
    const r = await anthropic.complete({ ...req, modelId: "claude-sonnet-4-20250514" });
    expect(r).toEqual({ text: "Plan: read, change, test.", finishReason: "length", usage: { inputTokens: 2095, outputTokens: 503 } });
    expect(body).toEqual({ model: "claude-sonnet-4-20250514", max_tokens: 256, system: "You are the planner.", messages: [{ role: "user", content: "Plan the change." }], temperature: 0.2 });
  });

  it("streams the documented event sequence", async () => {
    const events = [
      ["message_start", { type: "message_start", message: { id: "msg_1", type: "message", role: "assistant", content: [], model: "claude-sonnet-4-20250514", stop_reason: null, stop_sequence: null, usage: { input_tokens: 25, output_tokens: 1 } } }],
      ["content_block_start", { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }],
      ["ping", { type: "ping" }],
      ["content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "Hello" } }],
      ["content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "!" } }],
      ["content_block_stop", { type: "content_block_stop", index: 0 }],
      ["message_delta", { type: "message_delta", delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: 15 } }],
      ["message_stop", { type: "message_stop" }],
    ] as const;
    nock("https://api.anthropic.com")
      .post("/v1/messages", (b: { stream?: boolean }) => b.stream === true)
      .reply(200, events.map(([e, d]) => `event: ${e}\ndata: ${JSON.stringify(d)}\n\n`).join(""), { "content-type": "text/event-stream" });
    const { text, end } = await collect(anthropic);
    expect(text).toBe("Hello!");
    expect(end.usage).toEqual({ inputTokens: 25, outputTokens: 15 });
  });

  it("an overloaded_error event mid-stream is a retryable error", async () => {
    nock("https://api.anthropic.com")
      .post("/v1/messages")
      .reply(200, `event: error\ndata: ${JSON.stringify({ type: "error", error: { type: "overloaded_error", message: "Overloaded" } })}\n\n`, { "content-type": "text/event-stream" });
    await expect(collect(anthropic)).rejects.toMatchObject({ code: "overloaded_error", retryable: true });
  });

  it("maps 529 overloaded and 429 rate limit (with retry-after) to retryable errors", async () => {
    nock("https://api.anthropic.com").post("/v1/messages").reply(529, { type: "error", error: { type: "overloaded_error", message: "Overloaded" } });
    await expect(anthropic.complete(req)).rejects.toMatchObject({ status: 529, code: "overloaded_error", retryable: true });
    nock("https://api.anthropic.com").post("/v1/messages").reply(429, { type: "error", error: { type: "rate_limit_error", message: "Number of request tokens has exceeded your per-minute rate limit" } }, { "retry-after": "7" });
    await expect(anthropic.complete(req)).rejects.toMatchObject({ status: 429, code: "rate_limit_error", retryAfterMs: 7000, retryable: true });
  });
});

describe("Bedrock provider", () => {
  const mock = mockClient(BedrockRuntimeClient);
  afterEach(() => mock.reset());
  const bedrock = () => new BedrockProvider({ name: "bedrock", region: "us-east-1", client: new BedrockRuntimeClient({ region: "us-east-1" }) });

  it("calls Converse with system blocks, messages and inferenceConfig", async () => {
    mock.on(ConverseCommand).resolves({
      output: { message: { role: "assistant", content: [{ text: "Plan ready." }] } },
      stopReason: "end_turn",
      usage: { inputTokens: 30, outputTokens: 4, totalTokens: 34 },
      metrics: { latencyMs: 420 },
    });
    const r = await bedrock().complete({ ...req, modelId: "anthropic.claude-3-5-sonnet-20240620-v1:0" });
    expect(r).toEqual({ text: "Plan ready.", finishReason: "stop", usage: { inputTokens: 30, outputTokens: 4 } });
    expect(mock.commandCalls(ConverseCommand)[0]!.args[0].input).toEqual({
      modelId: "anthropic.claude-3-5-sonnet-20240620-v1:0",
      system: [{ text: "You are the planner." }],
      messages: [{ role: "user", content: [{ text: "Plan the change." }] }],
      inferenceConfig: { maxTokens: 256, temperature: 0.2 },
    });
  });

  it("streams ConverseStream events", async () => {
    async function* events() {
      yield { messageStart: { role: "assistant" as const } };
      yield { contentBlockDelta: { contentBlockIndex: 0, delta: { text: "Hel" } } };
      yield { contentBlockDelta: { contentBlockIndex: 0, delta: { text: "lo" } } };
      yield { contentBlockStop: { contentBlockIndex: 0 } };
      yield { messageStop: { stopReason: "max_tokens" as const } };
      yield { metadata: { usage: { inputTokens: 11, outputTokens: 2, totalTokens: 13 }, metrics: { latencyMs: 100 } } };
    }
    mock.on(ConverseStreamCommand).resolves({ stream: events() });
    const { text, end } = await collect(bedrock());
    expect(text).toBe("Hello");
    expect(end).toEqual({ type: "end", finishReason: "length", usage: { inputTokens: 11, outputTokens: 2 } });
  });

  it("ThrottlingException is retryable, ValidationException is not", async () => {
    mock
      .on(ConverseCommand)
      .rejectsOnce(new ThrottlingException({ message: "Too many requests, please wait before trying again.", $metadata: { httpStatusCode: 429 } }))
      .rejectsOnce(new ValidationException({ message: "The provided model identifier is invalid.", $metadata: { httpStatusCode: 400 } }));
    const p = bedrock();
    await expect(p.complete(req)).rejects.toMatchObject({ code: "ThrottlingException", retryable: true, status: 429 });
    await expect(p.complete(req)).rejects.toMatchObject({ code: "ValidationException", retryable: false });
  });
});

describe("scripted provider", () => {
  it("answers by the first matching entry, and rehearses errors a set number of times", async () => {
    const p = new ScriptedProvider("scripted", {
      responses: [
        { match: "plan", text: "the plan", finish_reason: "stop", error: { status: 429, message: "slow down", retry_after_ms: 10 }, times: 1 },
        { match: "plan", text: "the plan", finish_reason: "stop" },
        { text: "anything else", finish_reason: "stop" },
      ],
    });
    await expect(p.complete(req)).rejects.toMatchObject({ status: 429, retryable: true, retryAfterMs: 10 });
    await expect(p.complete(req)).resolves.toMatchObject({ text: "the plan" });
    await expect(p.complete({ ...req, messages: [{ role: "user", content: "hi" }] })).resolves.toMatchObject({ text: "anything else" });
  });
});
