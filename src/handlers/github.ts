// GitHub's webhook edge: X-Hub-Signature-256 over the raw body, with a second secret accepted while rotating.
import type { Config } from "../config.js";
import { HttpError } from "./http-error.js";
import { hmacSha256Check } from "./hmac-signature.js";
import { requiredHeader, type WebhookVendor } from "./webhook-route.js";

export function githubWebhooks(config: Config["github"]): WebhookVendor {
  const signed = hmacSha256Check([config.webhookSecret, config.webhookSecretPrevious]);
  return {
    source: "github",
    path: "/api/github/webhooks",
    authenticate(request, rawBody) {
      const signature = request.headers["x-hub-signature-256"];
      if (typeof signature !== "string" || !signature.startsWith("sha256=")) {
        throw new HttpError(401, "missing_signature", "Missing X-Hub-Signature-256 header; set a webhook secret on the GitHub App.");
      }
      if (!signed(rawBody, signature)) {
        throw new HttpError(401, "bad_signature", "X-Hub-Signature-256 does not match; the App's webhook secret must equal WEBHOOK_SECRET.");
      }
    },
    identify(request) {
      return {
        id: requiredHeader(request, "X-GitHub-Delivery", "GitHub's delivery id"),
        name: requiredHeader(request, "X-GitHub-Event", "GitHub's event name"),
      };
    },
  };
}
