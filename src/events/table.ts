// The table-driven frame the vendor normalisers share: validate what a rule reads, build the event, never throw.
import { z } from "zod";
import { EVENT_SCHEMA_VERSION, type DeliveryMeta, type Event, type EventSource, type NormalizeResult } from "./schema.js";

/** The parts of an event a rule decides; the frame fills in identity, time and raw_ref. */
export type EventDraft = Pick<Event, "kind" | "vendor_event" | "actor" | "subject"> &
  Partial<Pick<Event, "repo" | "tracker" | "label" | "comment" | "text" | "review_state" | "transition" | "ci" | "changed_paths">>;

/** A rule: the payload fields it reads (zod) and how it maps them; a string result means "ignored, because …". */
export interface Rule {
  readonly run: (payload: unknown, meta: DeliveryMeta, source: EventSource, name: string) => NormalizeResult;
}

export function rule<S extends z.ZodType>(schema: S, build: (payload: z.output<S>) => EventDraft | string): Rule {
  return {
    run(payload, meta, source, name) {
      const parsed = schema.safeParse(payload);
      if (!parsed.success) return invalid(name, parsed.error);
      const out = build(parsed.data);
      return typeof out === "string" ? { status: "ignored", reason: out } : { status: "event", event: finish(out, source, meta) };
    },
  };
}

/** Runs the rule for `name`; unknown names are ignored with a reason. A rule that breaks reports, never throws. */
export function normalizeWith(
  table: Readonly<Record<string, Rule>>,
  source: EventSource,
  name: string,
  payload: unknown,
  meta: DeliveryMeta,
): NormalizeResult {
  const r = lookup(table, name);
  if (!r) return { status: "ignored", reason: `${source} event "${name}" is not one the orchestrator acts on` };
  try {
    return r.run(payload, meta, source, name);
  } catch (err) {
    return { status: "invalid", field: "(payload)", message: `${name} payload could not be read: ${(err as Error).message}` };
  }
}

function invalid(name: string, error: z.ZodError): NormalizeResult {
  const issue = error.issues[0];
  const field = issue && issue.path.length > 0 ? issue.path.map(String).join(".") : "(payload)";
  const message = `${name} payload: ${field}: ${issue?.message ?? "is invalid"}`;
  return { status: "invalid", field, message };
}

function finish(d: EventDraft, source: EventSource, meta: DeliveryMeta): Event {
  return {
    schema_version: EVENT_SCHEMA_VERSION,
    id: `${source}:${meta.deliveryId}`,
    source,
    delivery_id: meta.deliveryId,
    vendor_event: d.vendor_event,
    kind: d.kind,
    repo: d.repo ?? null,
    tracker: d.tracker ?? null,
    actor: d.actor,
    subject: d.subject,
    label: d.label ?? null,
    comment: d.comment ?? null,
    text: d.text ?? null,
    review_state: d.review_state ?? null,
    transition: d.transition ?? null,
    ci: d.ci ?? null,
    changed_paths: d.changed_paths ?? null,
    received_at: meta.receivedAt.toISOString(),
    raw_ref: `sha256:${meta.rawSha256}`,
  };
}

/** A subject with every optional field empty, so rules state only what they know. */
export function subject(s: Partial<Event["subject"]> & Pick<Event["subject"], "type">): Event["subject"] {
  return {
    number: null,
    key: null,
    title: null,
    url: null,
    state: null,
    head_sha: null,
    head_ref: null,
    base_ref: null,
    is_fork: null,
    labels: [],
    ...s,
  };
}

/** Host name of a URL, or null when it is not one. */
export function hostOf(url: string | null | undefined): string | null {
  if (!url) return null;
  try {
    return new URL(url).host;
  } catch {
    return null;
  }
}

/**
 * An object schema that reads only the payload's own fields: a vendor field named like an
 * Object.prototype member (Jira's changelog `toString`) would otherwise read the inherited
 * function when the payload leaves it out.
 */
export function ownFields<S extends z.ZodType>(schema: S) {
  return z.preprocess((v) => (v !== null && typeof v === "object" && !Array.isArray(v) ? Object.assign(Object.create(null) as object, v) : v), schema);
}

/**
 * The entry of a lookup table for a vendor's value (an action name, a hook kind): its own entry only,
 * so an action named like an Object.prototype member ("toString") maps to nothing, not to a function.
 */
export function lookup<T>(table: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

/** Schemas for the vendor fields rules read: strings that may be missing become null. */
export const str = z.string();
export const optStr = z.string().nullish().transform((v) => v ?? null);
export const id = z.union([z.number(), z.string()]).transform(String);
