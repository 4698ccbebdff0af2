import { readFileSync } from "node:fs";
import { isMap, isScalar, isSeq, parseDocument, type Node } from "yaml";
import { describe, expect, it } from "vitest";
import { defaultManifestFile } from "../../src/setup/github-manifest.js";

const doc = parseDocument(readFileSync(defaultManifestFile, "utf8"));

/** Each entry of a YAML map or list with the comment written above it. */
function entries(path: string): Array<{ name: string; value: unknown; comment: string }> {
  const node = doc.get(path, true) as Node | undefined;
  // The parser attaches the comment above a collection's first entry to the collection itself.
  const first = (i: number) => (i === 0 ? (node?.commentBefore ?? "") : "");
  if (isMap(node))
    return node.items.map((pair, i) => ({
      name: String(isScalar(pair.key) ? pair.key.value : pair.key),
      value: isScalar(pair.value) ? pair.value.value : pair.value,
      comment: (isScalar(pair.key) ? pair.key.commentBefore : undefined) ?? first(i),
    }));
  if (isSeq(node))
    return node.items.map((item, i) => ({ name: String(isScalar(item) ? item.value : item), value: undefined, comment: (item as Node).commentBefore ?? first(i) }));
  throw new Error(`app.yml has no ${path}`);
}

/** The permission GitHub requires before an App may subscribe to each event (docs: "Webhook events and payloads"). */
const eventNeeds: Record<string, string> = {
  issues: "issues",
  issue_comment: "issues",
  pull_request: "pull_requests",
  pull_request_review: "pull_requests",
  check_suite: "checks",
  check_run: "checks",
  push: "contents",
};

describe("app.yml", () => {
  it("subscribes to exactly the events runs start from", () => {
    expect(entries("default_events").map((e) => e.name)).toEqual(Object.keys(eventNeeds));
  });

  it("says why on every permission and every event", () => {
    for (const e of [...entries("default_permissions"), ...entries("default_events")]) {
      expect(e.comment.trim().length, `${e.name} needs a comment saying why`).toBeGreaterThan(20);
    }
  });

  it("grants each event's permission, and nothing that lets the App change CI or settings", () => {
    const perms = Object.fromEntries(entries("default_permissions").map((e) => [e.name, e.value]));
    for (const [event, permission] of Object.entries(eventNeeds)) expect(perms[permission], `${event} needs ${permission}`).toMatch(/^(read|write)$/);
    expect(perms).toEqual({ metadata: "read", contents: "write", pull_requests: "write", issues: "write", checks: "write" });
    expect(perms).not.toHaveProperty("workflows");
    expect(perms).not.toHaveProperty("administration");
  });
});
