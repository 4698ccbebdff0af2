// Checks a `sha256=<hex>` HMAC signature of the raw body (GitHub X-Hub-Signature-256, Jira X-Hub-Signature).
import { verify } from "@octokit/webhooks-methods";

/** True when the signature was made with any of the accepted secrets (current first, then previous). */
export async function verifiesWithAny(rawBody: Buffer, signature: string, secrets: readonly (string | undefined)[]): Promise<boolean> {
  const body = rawBody.toString("utf8");
  for (const secret of secrets) {
    if (secret !== undefined && (await verify(secret, body, signature).catch(() => false))) return true;
  }
  return false;
}
