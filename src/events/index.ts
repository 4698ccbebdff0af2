// Normalises a vendor delivery to the event schema: one entry point over the per-vendor tables.
import { hash } from "node:crypto";
import { normalizeGithub } from "./github.js";
import { normalizeGitlab } from "./gitlab.js";
import { normalizeJira } from "./jira.js";
import type { DeliveryMeta, EventSource, NormalizeResult } from "./schema.js";

export type { DeliveryMeta, Event, EventSource, NormalizeResult } from "./schema.js";

const normalizers: Readonly<Record<EventSource, (name: string, payload: unknown, meta: DeliveryMeta) => NormalizeResult>> = {
  github: normalizeGithub,
  gitlab: normalizeGitlab,
  jira: normalizeJira,
};

export function normalize(source: EventSource, name: string, payload: unknown, meta: DeliveryMeta): NormalizeResult {
  return normalizers[source](name, payload, meta);
}

export function sha256Hex(raw: Buffer | string): string {
  // One-shot: no Hash object per delivery.
  return hash("sha256", raw, "hex");
}
