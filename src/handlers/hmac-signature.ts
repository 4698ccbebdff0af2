// Checks a `sha256=<hex>` HMAC signature of the raw body (GitHub X-Hub-Signature-256, Jira X-Hub-Signature).
import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from "node:crypto";

const SIGNATURE = /^sha256=([0-9a-f]{64})$/i;

/** True when `signature` was made over `rawBody` with one of the accepted secrets. */
export type SignatureCheck = (rawBody: Buffer, signature: string) => boolean;

/**
 * A check for the accepted secrets (current first, then the previous one while rotating).
 * The keys are prepared once, and the HMAC runs over the received bytes as they are: nothing
 * is decoded, so what is verified is exactly what was signed.
 */
export function hmacSha256Check(secrets: readonly (string | undefined)[]): SignatureCheck {
  const keys: KeyObject[] = secrets.filter((s): s is string => s !== undefined).map((s) => createSecretKey(Buffer.from(s, "utf8")));
  return (rawBody, signature) => {
    const hex = SIGNATURE.exec(signature)?.[1];
    if (hex === undefined) return false;
    const presented = Buffer.from(hex, "hex");
    return keys.some((key) => timingSafeEqual(createHmac("sha256", key).update(rawBody).digest(), presented));
  };
}
