// ModelProvider that replays responses from a YAML/JSON file: for tests and offline demos, no network.
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { estimateTokens, ProviderError, type ModelProvider, type ModelRequest, type ModelResponse, type StreamEvent } from "./port.js";

export const ScriptFile = z.strictObject({
  responses: z
    .array(
      z.strictObject({
        /** Regex over the last user message; absent matches any prompt. */
        match: z.string().optional(),
        text: z.string().default(""),
        finish_reason: z.enum(["stop", "length", "content_filter"]).default("stop"),
        usage: z.strictObject({ input_tokens: z.number().int().nonnegative(), output_tokens: z.number().int().nonnegative() }).optional(),
        /** Answer with this error instead (to rehearse throttling and outages). */
        error: z.strictObject({ status: z.number().int(), message: z.string().default("scripted error"), retry_after_ms: z.number().optional() }).optional(),
        /** How many times this entry answers before the next matching one takes over; absent: always. */
        times: z.number().int().positive().optional(),
      }),
    )
    .min(1),
});
export type ScriptFile = z.infer<typeof ScriptFile>;

export class ScriptedProvider implements ModelProvider {
  readonly name: string;
  private readonly entries: Array<ScriptFile["responses"][number] & { re?: RegExp; used: number }>;

  constructor(name: string, script: ScriptFile) {
    this.name = name;
    this.entries = script.responses.map((r) => ({ ...r, re: r.match ? new RegExp(r.match, "i") : undefined, used: 0 }));
  }

  static fromFile(name: string, file: string): ScriptedProvider {
    let raw: unknown;
    try {
      raw = parseYaml(readFileSync(file, "utf8"));
    } catch (err) {
      throw new Error(`scripted provider ${name}: cannot read ${file}: ${(err as Error).message}`, { cause: err });
    }
    const parsed = ScriptFile.safeParse(raw);
    if (!parsed.success) {
      const i = parsed.error.issues[0]!;
      throw new Error(`scripted provider ${name}: ${file}: ${i.path.join(".") || "(top level)"} ${i.message}`);
    }
    return new ScriptedProvider(name, parsed.data);
  }

  async complete(req: ModelRequest): Promise<ModelResponse> {
    const e = this.pick(req);
    const outputTokens = e.usage?.output_tokens ?? Math.min(req.maxTokens, Math.ceil(e.text.length / 4));
    return {
      text: e.text,
      finishReason: e.finish_reason,
      usage: { inputTokens: e.usage?.input_tokens ?? estimateTokens(req.messages), outputTokens },
    };
  }

  async *stream(req: ModelRequest): AsyncGenerator<StreamEvent> {
    const r = await this.complete(req);
    // Word-sized chunks, like a real stream.
    for (const piece of r.text.match(/\S+\s*|\s+/g) ?? []) yield { type: "text", text: piece };
    yield { type: "end", finishReason: r.finishReason, usage: r.usage };
  }

  private pick(req: ModelRequest) {
    const prompt = [...req.messages].reverse().find((m) => m.role === "user")?.content ?? "";
    const e = this.entries.find((x) => (!x.re || x.re.test(prompt)) && (x.times === undefined || x.used < x.times));
    if (!e) throw new ProviderError(this.name, "no_scripted_response", `${this.name}: no scripted response matches the prompt`, false);
    e.used++;
    if (e.error) {
      const s = e.error.status;
      throw new ProviderError(this.name, `http_${s}`, `${this.name}: HTTP ${s}: ${e.error.message}`, s === 429 || s >= 500, s, e.error.retry_after_ms);
    }
    return e;
  }
}
