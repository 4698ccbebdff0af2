// Jira Cloud webhooks → events, one rule per webhookEvent, written to Atlassian's documented webhook payloads.
import { z } from "zod";
import type { DeliveryMeta, EventActor, NormalizeResult } from "./schema.js";
import { hostOf, normalizeWith, optStr, ownFields, rule, str, subject, type EventDraft, type Rule } from "./table.js";

const User = z.object({ accountId: optStr, name: optStr, key: optStr, displayName: optStr, accountType: optStr });
const Issue = z.object({
  key: str,
  self: optStr,
  fields: z
    .object({
      summary: optStr,
      project: z.object({ key: str }).nullish(),
      status: z.object({ name: str }).nullish(),
      labels: z.array(str).nullish(),
      description: z.unknown().optional(),
    })
    .nullish(),
});

/** Jira Cloud users carry accountId; Server/Data Center and 2019-era Cloud payloads also carry name/key. */
function actorOf(u: z.output<typeof User> | null | undefined): EventActor | string {
  const login = u?.accountId ?? u?.name ?? u?.key;
  if (!u || !login) return "Jira delivery names no user (accountId, name or key); cannot tell who acted";
  return { login, id: u.accountId, name: u.displayName, is_bot: u.accountType === "app", permission: null };
}

/**
 * The site's base URL from a REST `self` link: Server/Data Center sites may run on http, on a port
 * and under a context path (http://jira.example.com:8080/jira/rest/api/2/issue/1 → …:8080/jira).
 */
function siteBase(self: string | null | undefined): string | null {
  if (!self || !hostOf(self)) return null;
  const url = new URL(self);
  const rest = url.pathname.indexOf("/rest/");
  return `${url.origin}${rest > 0 ? url.pathname.slice(0, rest) : ""}`;
}

/** `fallbackSelf`: another REST link of the same delivery (the comment's) when the issue has none. */
function issueParts(issue: z.output<typeof Issue>, fallbackSelf?: string | null) {
  const self = issue.self ?? fallbackSelf;
  const host = hostOf(self);
  const base = siteBase(self);
  const projectKey = issue.fields?.project?.key ?? issue.key.split("-")[0] ?? issue.key;
  return {
    tracker: { host: host ?? "unknown", project_key: projectKey },
    subject: subject({
      type: "jira_issue",
      key: issue.key,
      title: issue.fields?.summary ?? null,
      url: base ? `${base}/browse/${issue.key}` : null,
      state: issue.fields?.status?.name ?? null,
      labels: issue.fields?.labels ?? [],
    }),
  };
}

/** Plain text of a body that is either wiki markup (a string) or an Atlassian Document Format tree. */
function bodyText(body: unknown): string | null {
  if (body == null) return null;
  if (typeof body === "string") return body;
  return adfText(body, 0).replace(/\n+$/, "");
}

/**
 * Atlassian Document Format as the Markdown a reader of the comment would see: blocks as lines,
 * code blocks fenced and inline code in backticks (each longer than any run of backticks it
 * holds), quotes `>`-prefixed, mentions, emoji, links and statuses as their text. So what is code
 * or quoted in Jira stays code or quoted for whatever reads the text (slash commands are not
 * read there).
 */
function adfText(node: unknown, depth: number): string {
  if (depth > 64 || node === null || typeof node !== "object") return "";
  const n = node as { type?: unknown; text?: unknown; content?: unknown; attrs?: Record<string, unknown> | null; marks?: unknown };
  const attr = (k: string) => (typeof n.attrs?.[k] === "string" ? (n.attrs[k] as string) : "");
  switch (n.type) {
    case "hardBreak":
      return "\n";
    case "text": {
      const text = typeof n.text === "string" ? n.text : "";
      const code = Array.isArray(n.marks) && n.marks.some((m) => (m as { type?: unknown } | null)?.type === "code");
      if (!code) return text;
      const ticks = "`".repeat(longestRun(text, "`") + 1);
      return `${ticks}${text.startsWith("`") || text.endsWith("`") ? ` ${text} ` : text}${ticks}`;
    }
    case "mention":
    case "status":
      return attr("text");
    case "emoji":
      return attr("text") || attr("shortName");
    case "inlineCard":
    case "blockCard":
    case "embedCard":
      return attr("url");
  }
  const inner = Array.isArray(n.content) ? n.content.map((c) => adfText(c, depth + 1)).join("") : "";
  switch (n.type) {
    case "codeBlock": {
      const body = inner.replace(/\n+$/, "");
      const fence = "`".repeat(Math.max(3, longestRun(body, "`") + 1));
      return `${fence}\n${body}\n${fence}\n`;
    }
    case "blockquote":
      return `${inner.replace(/\n+$/, "").split("\n").map((line) => `> ${line}`).join("\n")}\n`;
    case "paragraph":
    case "heading":
    case "taskItem":
    case "decisionItem":
    case "rule":
      return inner.endsWith("\n") ? inner : `${inner}\n`;
    default:
      return inner;
  }
}

function longestRun(text: string, char: string): number {
  let longest = 0;
  let run = 0;
  for (const c of text) {
    run = c === char ? run + 1 : 0;
    if (run > longest) longest = run;
  }
  return longest;
}

const table: Record<string, Rule> = {
  "jira:issue_updated": rule(
    z.object({
      user: User.nullish(),
      issue: Issue,
      changelog: z
        .object({
          id: z.union([z.string(), z.number()]).transform(String).nullish(),
          items: z.array(ownFields(z.object({ field: optStr, fieldId: optStr, fromString: optStr, toString: optStr }))).nullish(),
        })
        .nullish(),
    }),
    (p): EventDraft | string => {
      const change = p.changelog?.items?.find((i) => i.fieldId === "status" || i.field?.toLowerCase() === "status");
      if (!change) return "Jira issue update changed no status; only status transitions start runs";
      if (!change.toString) return "Jira status change without a target status (changelog toString is empty)";
      const actor = actorOf(p.user);
      if (typeof actor === "string") return actor;
      return {
        kind: "status_transitioned",
        vendor_event: "jira:issue_updated",
        actor,
        ...issueParts(p.issue),
        transition: { id: p.changelog?.id ?? null, from: change.fromString, to: change.toString },
      };
    },
  ),
  "jira:issue_created": rule(z.object({ user: User.nullish(), issue: Issue }), (p) => {
    const actor = actorOf(p.user);
    if (typeof actor === "string") return actor;
    return {
      kind: "issue_opened",
      vendor_event: "jira:issue_created",
      actor,
      ...issueParts(p.issue),
      text: bodyText(p.issue.fields?.description),
    };
  }),
  comment_created: rule(
    // The issue is not guaranteed: Server/Data Center comment payloads vary by version, some carry the comment only.
    z.object({ comment: z.object({ id: z.union([z.string(), z.number()]).transform(String), self: optStr, author: User.nullish(), body: z.unknown() }), issue: Issue.nullish() }),
    (p) => {
      if (!p.issue) return "Jira comment event without its issue; cannot tell which issue the comment is on";
      const actor = actorOf(p.comment.author);
      if (typeof actor === "string") return actor;
      return {
        kind: "comment_created",
        vendor_event: "comment_created",
        actor,
        ...issueParts(p.issue, p.comment.self),
        comment: { id: p.comment.id, url: p.comment.self },
        text: bodyText(p.comment.body),
      };
    },
  ),
};

export function normalizeJira(name: string, payload: unknown, meta: DeliveryMeta): NormalizeResult {
  return normalizeWith(table, "jira", name, payload, meta);
}
