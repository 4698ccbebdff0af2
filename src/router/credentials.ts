// Resolves the credential references a policy names (env var names, Secrets Manager ids) into secrets, once at startup.
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { CredentialRef, LoadedPolicy } from "./policy.js";
import type { CredentialResolver } from "./providers/registry.js";

/** Fetches one secret's string value by id or ARN. */
export type SecretFetcher = (id: string) => Promise<string>;

/** Secrets Manager, in the region an ARN names (else the SDK's default region and credential chain). */
export function secretsManagerFetcher(clientFor: (region?: string) => SecretsManagerClient = (region) => new SecretsManagerClient(region ? { region } : {})): SecretFetcher {
  const clients = new Map<string, SecretsManagerClient>();
  return async (id) => {
    const region = /^arn:aws[\w-]*:secretsmanager:([a-z0-9-]+):/.exec(id)?.[1] ?? "";
    let client = clients.get(region);
    if (!client) clients.set(region, (client = clientFor(region || undefined)));
    const out = await client.send(new GetSecretValueCommand({ SecretId: id }));
    if (out.SecretString === undefined) throw new Error("the secret has no string value");
    return out.SecretString;
  };
}

/**
 * Reads every reference in the policy up front, so a call never waits on Secrets Manager. A
 * reference that cannot be read makes its provider refuse calls with the reason (fail closed);
 * the others still work.
 */
export async function resolveCredentials(loaded: LoadedPolicy, env: Readonly<Record<string, string | undefined>>, fetchSecret?: SecretFetcher): Promise<CredentialResolver> {
  const fetched = new Map<string, { value?: string; error?: string }>();
  const ids = new Set<string>();
  for (const p of Object.values(loaded.policy.providers)) {
    const ref = "api_key" in p ? p.api_key : undefined;
    if (ref && "secrets_manager" in ref) ids.add(ref.secrets_manager);
  }
  await Promise.all(
    [...ids].map(async (id) => {
      if (!fetchSecret) return void fetched.set(id, { error: "no Secrets Manager client is configured" });
      try {
        fetched.set(id, { value: await fetchSecret(id) });
      } catch (err) {
        fetched.set(id, { error: (err as Error).message });
      }
    }),
  );
  return (ref: CredentialRef) => {
    if ("env" in ref) return env[ref.env];
    const got = fetched.get(ref.secrets_manager);
    if (got?.value !== undefined) return got.value;
    throw new Error(`secrets_manager ${ref.secrets_manager} could not be read: ${got?.error ?? "not fetched"}`);
  };
}
