// Help text for the slash commands, generated from the command table: the reply to `help` and the docs section.
import { accessText, commandTable } from "./table.js";

/** Markdown table of every command: usage, what it does, who can use it, examples. */
export function helpMarkdown(): string {
  const rows = commandTable.map(
    (c) =>
      `| \`${c.usage}\` | ${c.description} | ${accessText[c.access]} | ${c.examples.map((e) => `\`${e}\``).join("<br>")} |`,
  );
  return ["| command | what it does | who can use it | examples |", "| --- | --- | --- | --- |", ...rows].join("\n");
}

export function helpReply(intro?: string): string {
  const lead = intro ? `${intro}\n\n` : "";
  return `${lead}**Orchestrator commands** (start a line with the command; quoted lines and code blocks are ignored):\n\n${helpMarkdown()}`;
}
