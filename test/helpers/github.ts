// Real GitHub webhook material for tests and benchmarks: example payloads, a fresh App key, signed requests.
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import { sign } from "@octokit/webhooks-methods";

interface WebhookDefinition {
  name: string;
  examples: unknown[];
}

const require = createRequire(import.meta.url);
const definitions = require("@octokit/webhooks-examples") as WebhookDefinition[];

/** The first example payload GitHub's docs give for an event, as the exact bytes to send. */
export function examplePayload(event: string): string {
  const def = definitions.find((d) => d.name === event);
  if (!def || def.examples.length === 0) throw new Error(`@octokit/webhooks-examples has no example for ${event}`);
  return JSON.stringify(def.examples[0]);
}

/** An RSA private key in PEM, like the one GitHub generates for an App. */
export function appPrivateKey(): string {
  return generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs1", format: "pem" }).toString();
}

/** The headers GitHub sends with a delivery, signed with `secret` over `body`. */
export async function githubHeaders(event: string, body: string, secret: string, id: string = randomUUID()): Promise<Record<string, string>> {
  return {
    "content-type": "application/json",
    "user-agent": "GitHub-Hookshot/test",
    "x-github-event": event,
    "x-github-delivery": id,
    "x-github-hook-id": "1",
    "x-github-hook-installation-target-type": "integration",
    "x-github-hook-installation-target-id": "1",
    "x-hub-signature-256": await sign(secret, body),
  };
}
