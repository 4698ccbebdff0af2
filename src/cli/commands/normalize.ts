// `orchestrator normalize`: prints the normalised event for a vendor payload, or why it is ignored.
import { randomUUID } from "node:crypto";
import type { Command } from "commander";
import { normalize, sha256Hex } from "../../events/index.js";
import { eventSources, type EventSource } from "../../events/schema.js";
import type { CliContext } from "../context.js";
import { readPayload, usageError } from "../payload-input.js";

export default function register(program: Command, _ctx: CliContext): void {
  program
    .command("normalize")
    .description("Print the normalised event JSON for a webhook payload, or {\"ignored\": \"<reason>\"}; exit 2 when the payload is malformed.")
    .requiredOption("--source <source>", `where the payload comes from: ${eventSources.join(" | ")}`)
    .option("--event <name>", "vendor event name: X-GitHub-Event, X-Gitlab-Event (e.g. \"Merge Request Hook\"); Jira: defaults to the body's webhookEvent")
    .option("--file <path>", "payload file (default: standard input)")
    .option("--delivery-id <id>", "delivery id to put in the event (default: a random UUID)")
    .action(async (opts: { source: string; event?: string; file?: string; deliveryId?: string }) => {
      const source = checkSource(opts.source);
      const { raw, payload } = await readPayload(opts.file);
      const name = eventName(source, opts.event, payload);
      const r = normalize(source, name, payload, { deliveryId: opts.deliveryId ?? randomUUID(), receivedAt: new Date(), rawSha256: sha256Hex(raw) });
      if (r.status === "invalid") usageError(r.message);
      process.stdout.write(`${JSON.stringify(r.status === "event" ? r.event : { ignored: r.reason }, null, 2)}\n`);
    });
}

export function checkSource(s: string): EventSource {
  if (!(eventSources as readonly string[]).includes(s)) usageError(`--source must be one of ${eventSources.join(", ")}, got "${s}"`);
  return s as EventSource;
}

export function eventName(source: EventSource, given: string | undefined, payload: unknown): string {
  if (given) return given;
  const fromBody = source === "jira" ? (payload as { webhookEvent?: unknown } | null)?.webhookEvent : undefined;
  if (typeof fromBody === "string" && fromBody) return fromBody;
  return usageError(`--event is required for ${source} (the ${source === "github" ? "X-GitHub-Event" : "X-Gitlab-Event"} header's value)`);
}
