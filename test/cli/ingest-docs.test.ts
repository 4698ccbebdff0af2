import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { generatedSchemaFiles, withCommandTable } from "../../src/cli/ingest-docs.js";
import { helpMarkdown } from "../../src/handlers/commands/help.js";

const root = path.resolve(import.meta.dirname, "../..");
const fix = "run: npx tsx src/cli.ts schemas";

describe("generated ingestion docs", () => {
  it.each(Object.entries(generatedSchemaFiles()))("%s is up to date", (file, content) => {
    expect(readFileSync(path.join(root, file), "utf8"), fix).toBe(content);
  });

  it("docs/events.md has the current slash-command table", () => {
    const doc = readFileSync(path.join(root, "docs/events.md"), "utf8");
    expect(doc, fix).toBe(withCommandTable(doc));
    expect(doc).toContain(helpMarkdown());
  });

  it("the event schema names every field and the repo config schema allows _extends", () => {
    const event = JSON.parse(generatedSchemaFiles()["docs/event.schema.json"]!) as { required: string[] };
    expect(event.required).toEqual(expect.arrayContaining(["id", "source", "kind", "repo", "actor", "subject", "text", "transition", "ci", "received_at", "raw_ref", "schema_version"]));
    const config = JSON.parse(generatedSchemaFiles()["docs/orchestrator-config.schema.json"]!) as { properties: Record<string, unknown> };
    expect(Object.keys(config.properties)).toEqual(expect.arrayContaining(["_extends", "triggers", "forks", "bots", "sensitivity", "approvers", "gates", "paths"]));
  });
});
