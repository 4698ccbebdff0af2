import { GetSecretValueCommand, ResourceNotFoundException, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { resolveCredentials, secretsManagerFetcher } from "../../src/router/credentials.js";
import { parsePolicy } from "../../src/router/policy.js";
import { buildProviders } from "../../src/router/providers/registry.js";

const policy = parsePolicy(`version: 1
providers:
  openai: { kind: openai_compatible, base_url: "https://api.openai.com/v1", api_key: { env: OPENAI_API_KEY } }
  azure: { kind: openai_compatible, base_url: "https://acme.openai.azure.com", azure: { api_version: "2024-10-21" }, api_key: { secrets_manager: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/azure-openai-AbCdEf" } }
  anthropic: { kind: anthropic, api_key: { secrets_manager: prod/anthropic } }
models:
  gpt: { provider: openai, id: gpt-4o, price_per_1m: { input: 1, output: 1 } }
sensitivity: { default: internal, levels: { internal: { approved_providers: [openai, azure, anthropic] } } }
rules: [{ model: gpt }]
`);

const sm = mockClient(SecretsManagerClient);
afterEach(() => sm.reset());

describe("credential references", () => {
  it("reads env names from the given environment and Secrets Manager ids once, in the ARN's region", async () => {
    sm.on(GetSecretValueCommand, { SecretId: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/azure-openai-AbCdEf" }).resolves({ SecretString: "azure-key-value" });
    sm.on(GetSecretValueCommand, { SecretId: "prod/anthropic" }).rejects(new ResourceNotFoundException({ message: "Secrets Manager can't find the specified secret.", $metadata: {} }));
    const regions: Array<string | undefined> = [];
    const resolve = await resolveCredentials(policy, { OPENAI_API_KEY: "sk-from-env" }, secretsManagerFetcher((region) => (regions.push(region), new SecretsManagerClient({ region: region ?? "us-east-1" }))));
    expect(resolve({ env: "OPENAI_API_KEY" })).toBe("sk-from-env");
    expect(resolve({ secrets_manager: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/azure-openai-AbCdEf" })).toBe("azure-key-value");
    expect(() => resolve({ secrets_manager: "prod/anthropic" })).toThrow(/prod\/anthropic could not be read: Secrets Manager can't find the specified secret/);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(2);
    expect(regions.sort()).toEqual(["eu-west-1", undefined]);
  });

  it("a provider whose secret cannot be read refuses calls with the reason; the others are built", async () => {
    const resolve = await resolveCredentials(policy, {});
    const providers = buildProviders(policy, resolve);
    await expect(providers.get("anthropic")!.complete({ modelId: "m", messages: [], maxTokens: 1 })).rejects.toMatchObject({
      code: "provider_unavailable",
      message: expect.stringMatching(/prod\/anthropic could not be read: no Secrets Manager client is configured/),
    });
    await expect(providers.get("openai")!.complete({ modelId: "m", messages: [], maxTokens: 1 })).rejects.toMatchObject({
      code: "provider_unavailable",
      message: "provider openai: credential env OPENAI_API_KEY is not set",
    });
  });
});
