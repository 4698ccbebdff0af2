// Jira's webhook edge: HMAC X-Hub-Signature (Jira Cloud's webhook secret) or a secret `token` query parameter.
import type { Config } from "../config.js";
import { sha256Hex } from "../events/index.js";
import { HttpError } from "./http-error.js";
import { hmacSha256Check } from "./hmac-signature.js";
import { matchesAnySecret } from "./secrets-compare.js";
import { optionalHeader, type WebhookVendor } from "./webhook-route.js";

export function jiraWebhooks(config: Config["jira"]): WebhookVendor {
  const secrets = [config.webhookSecret, config.webhookSecretPrevious];
  const signed = hmacSha256Check(secrets);
  return {
    source: "jira",
    path: "/api/jira/webhooks",
    authenticate(request, rawBody) {
      const signature = optionalHeader(request, "X-Hub-Signature");
      if (signature) {
        if (signed(rawBody, signature)) return;
        throw new HttpError(401, "bad_signature", "X-Hub-Signature does not match; the Jira webhook's secret must equal JIRA_WEBHOOK_SECRET.");
      }
      const token = (request.query as Record<string, unknown> | undefined)?.["token"];
      if (typeof token === "string" && token.length > 0) {
        if (matchesAnySecret(token, secrets)) return;
        throw new HttpError(401, "bad_token", "The token query parameter does not match JIRA_WEBHOOK_SECRET.");
      }
      throw new HttpError(
        401,
        "missing_signature",
        "Unauthenticated Jira webhook: set a secret on the Jira webhook (X-Hub-Signature) or add ?token=<JIRA_WEBHOOK_SECRET> to its URL.",
      );
    },
    identify(request, payload, rawBody) {
      const id = optionalHeader(request, "X-Atlassian-Webhook-Identifier") ?? `sha256-${sha256Hex(rawBody)}`;
      const event = (payload as { webhookEvent?: unknown } | null)?.webhookEvent;
      if (typeof event !== "string" || event.length === 0) {
        throw new HttpError(400, "invalid_payload", "Jira payload has no webhookEvent field; is this a Jira webhook?");
      }
      return { id, name: event };
    },
  };
}
