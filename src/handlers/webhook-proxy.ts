// Development relay: forwards GitHub deliveries from a smee.io channel (WEBHOOK_PROXY_URL) to our own webhook route.
import { SmeeClient } from "smee-client";
import type { Logger } from "../log.js";

export interface WebhookRelay {
  /** The smee channel deliveries come from. */
  readonly source: string;
  /** Our webhook URL they are posted to, with their original headers (so signatures still verify). */
  readonly target: string;
  stop(): Promise<void>;
}

/**
 * Connects to the channel and starts forwarding. The channel only carries what GitHub sent;
 * each relayed delivery is checked by the webhook route exactly like a direct one.
 */
export async function startWebhookRelay(source: string, target: string, logger: Logger): Promise<WebhookRelay> {
  const log = logger.child({ component: "webhook-proxy" });
  const client = new SmeeClient({
    source,
    target,
    // Without a bound, an unreachable channel would hold up startup forever.
    maxConnectionTimeout: 10_000,
    logger: {
      info: (...args: unknown[]) => log.debug(args.map(String).join(" ")),
      error: (...args: unknown[]) => log.warn({ detail: args.map(String).join(" ") }, "webhook proxy error"),
    },
  });
  await client.start();
  log.info({ source, target }, "relaying webhook deliveries from the proxy channel");
  return { source, target, stop: () => client.stop() };
}
