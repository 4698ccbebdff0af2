// The generated parts of the ingestion docs: JSON Schemas of the event, run request and repo config, and the command table.
import { z } from "zod";
import { Event } from "../events/schema.js";
import { helpMarkdown } from "../handlers/commands/help.js";
import { RepoConfig } from "../orchestrator/repo-config/schema.js";
import { RunRequest } from "../orchestrator/run-request.js";

const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;

function repoConfigSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(RepoConfig, { io: "input" }) as { properties: Record<string, unknown> } & Record<string, unknown>;
  // `_extends` is resolved by the loader before validation, so the zod schema does not list it.
  schema.properties = {
    _extends: { type: "string", description: 'Inherit from another config: "repo", "owner/repo" or "owner/repo:path/to/file.yml"; this file wins' },
    ...schema.properties,
  };
  return { $id: "https://scintilla.dev/schemas/orchestrator-config.schema.json", title: "orchestrator.yml", ...schema };
}

/** File (relative to the repo root) → its generated content. */
export function generatedSchemaFiles(): Record<string, string> {
  return {
    "docs/event.schema.json": json({ $id: "https://scintilla.dev/schemas/event.schema.json", title: "Event", ...z.toJSONSchema(Event) }),
    "docs/run-request.schema.json": json({ $id: "https://scintilla.dev/schemas/run-request.schema.json", title: "RunRequest", ...z.toJSONSchema(RunRequest) }),
    "docs/orchestrator-config.schema.json": json(repoConfigSchema()),
  };
}

/** `doc` with the slash-command table between `<!-- commands:start -->` and `<!-- commands:end -->` regenerated. */
export function withCommandTable(doc: string): string {
  const re = /<!-- commands:start -->[\s\S]*<!-- commands:end -->/;
  if (!re.test(doc)) throw new Error("no <!-- commands:start --> ... <!-- commands:end --> markers in the file");
  return doc.replace(re, () => `<!-- commands:start -->\n${helpMarkdown()}\n<!-- commands:end -->`);
}
