// Builds one ModelProvider per policy entry; a provider whose credential is missing refuses calls with the reason.
import path from "node:path";
import type { CredentialRef, LoadedPolicy, ProviderConfig } from "../policy.js";
import { AnthropicProvider } from "./anthropic.js";
import { BedrockProvider } from "./bedrock.js";
import { OpenAiCompatibleProvider } from "./openai-compatible.js";
import { ProviderError, type ModelProvider } from "./port.js";
import { ScriptedProvider } from "./scripted.js";

/** Turns a credential reference into the secret; the composition root supplies it (env or Secrets Manager). */
export type CredentialResolver = (ref: CredentialRef) => string | undefined;

export type ProviderRegistry = ReadonlyMap<string, ModelProvider>;

export function buildProviders(loaded: LoadedPolicy, resolve: CredentialResolver): ProviderRegistry {
  const out = new Map<string, ModelProvider>();
  for (const [name, cfg] of Object.entries(loaded.policy.providers)) {
    try {
      out.set(name, buildOne(name, cfg, loaded, resolve));
    } catch (err) {
      out.set(name, unavailable(name, (err as Error).message));
    }
  }
  return out;
}

function buildOne(name: string, cfg: ProviderConfig, loaded: LoadedPolicy, resolve: CredentialResolver): ModelProvider {
  const secret = (ref: CredentialRef | undefined): string | undefined => {
    if (!ref) return undefined;
    const v = resolve(ref);
    if (!v) throw new Error(`provider ${name}: credential ${"env" in ref ? `env ${ref.env}` : `secrets_manager ${ref.secrets_manager}`} is not set`);
    return v;
  };
  switch (cfg.kind) {
    case "scripted":
      return ScriptedProvider.fromFile(name, path.resolve(path.dirname(loaded.file), cfg.file));
    case "bedrock":
      return new BedrockProvider({ name, region: cfg.region, endpoint: cfg.endpoint });
    case "openai_compatible":
      return new OpenAiCompatibleProvider({ name, baseUrl: cfg.base_url, apiKey: secret(cfg.api_key), azureApiVersion: cfg.azure?.api_version });
    case "anthropic":
      return new AnthropicProvider({ name, baseUrl: cfg.base_url, apiKey: secret(cfg.api_key)!, version: cfg.anthropic_version });
  }
}

/** Fails closed: every call names why the provider cannot be used. */
function unavailable(name: string, reason: string): ModelProvider {
  const fail = (): never => {
    throw new ProviderError(name, "provider_unavailable", reason, false);
  };
  return {
    name,
    complete: async () => fail(),
    // eslint-disable-next-line require-yield
    stream: async function* () {
      fail();
    },
  };
}
