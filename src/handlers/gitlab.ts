// GitLab's webhook edge: the X-Gitlab-Token secret, compared in constant time, two tokens while rotating.
import type { Config } from "../config.js";
import { sha256Hex } from "../events/index.js";
import { HttpError } from "./http-error.js";
import { matchesAnySecret } from "./secrets-compare.js";
import { optionalHeader, requiredHeader, type WebhookVendor } from "./webhook-route.js";

export function gitlabWebhooks(config: Config["gitlab"]): WebhookVendor {
  const tokens = [config.webhookToken, config.webhookTokenPrevious];
  return {
    source: "gitlab",
    path: "/api/gitlab/webhooks",
    authenticate(request) {
      const token = optionalHeader(request, "X-Gitlab-Token");
      if (!token) {
        throw new HttpError(401, "missing_token", "Missing X-Gitlab-Token header; set the webhook's secret token in GitLab.");
      }
      if (!matchesAnySecret(token, tokens)) {
        throw new HttpError(401, "bad_token", "X-Gitlab-Token does not match; the webhook's secret token must equal GITLAB_WEBHOOK_TOKEN.");
      }
    },
    identify(request, _payload, rawBody) {
      // GitLab retries a delivery with the same Idempotency-Key (16.x+); older versions only send the event UUID.
      const id = optionalHeader(request, "Idempotency-Key") ?? optionalHeader(request, "X-Gitlab-Event-UUID") ?? `sha256-${sha256Hex(rawBody)}`;
      return { id, name: requiredHeader(request, "X-Gitlab-Event", "GitLab's event name, e.g. Merge Request Hook") };
    },
  };
}
