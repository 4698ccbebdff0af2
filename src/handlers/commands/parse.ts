// Finds `/orchestrator …` command lines in a comment: line-anchored, on lines readers see as plain text, arguments split like a shell.
import { closest, distance } from "fastest-levenshtein";
import { parse as shellParse } from "shell-quote";
import type { EventSource } from "../../events/schema.js";
import type { CommandLine } from "../../orchestrator/triggers/command.js";
import { helpReply } from "./help.js";
import { plainLines } from "./plain-lines.js";
import { COMMAND_PREFIX, commandNames, commandTable } from "./table.js";

/** More command lines than this in one comment are not read: one comment, a handful of commands. */
const MAX_COMMANDS = 10;
const commandLine = new RegExp(`^${COMMAND_PREFIX.replace("/", "\\/")}(?:[ \\t]+(.*))?$`, "i");
/**
 * Editors put these where a space was typed: Jira's and mobile keyboards' no-break spaces, and
 * other Unicode spaces. On a line a reader sees as plain text they read as spaces
 * (`/orchestrator\u00a0plan` is a command), and zero-width characters, invisible, are dropped.
 */
const UNICODE_SPACE = /[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]/g;
const ZERO_WIDTH = /[\u200b-\u200d\u2060\ufeff]/g;

/** Splits arguments like a shell; operators and globs come back as the text that was written. */
function splitArgs(rest: string): string[] | { error: string } {
  try {
    const out: string[] = [];
    for (const entry of shellParse(rest, (key) => `$${key}`)) {
      if (typeof entry === "string") out.push(entry);
      else if ("comment" in entry) break;
      else if ("pattern" in entry) out.push(entry.pattern);
      else if ("op" in entry) out.push(entry.op);
    }
    return out;
  } catch (err) {
    return { error: `could not split the arguments: ${(err as Error).message}` };
  }
}

/** The commands of a comment written on `source` (its markup decides what is quoted, code or hidden). */
export function parseCommands(text: string, source: EventSource): CommandLine[] {
  const out: CommandLine[] = [];
  for (const plain of plainLines(text, source)) {
    if (out.length >= MAX_COMMANDS) break;
    const line = plain.replace(UNICODE_SPACE, " ").replace(ZERO_WIDTH, "");
    const m = commandLine.exec(line);
    if (!m) continue;
    out.push(parseLine(line, (m[1] ?? "").trim()));
  }
  return out;
}

function parseLine(line: string, rest: string): CommandLine {
  const args = splitArgs(rest);
  if (!Array.isArray(args)) return { type: "reply", line, reason: args.error, body: helpReply(`I could not read \`${line}\`: ${args.error}.`) };
  const [verb, ...params] = args;
  if (!verb || verb.toLowerCase() === "help") return { type: "reply", line, reason: "help", body: helpReply() };
  const spec = commandTable.find((c) => c.name === verb.toLowerCase());
  if (!spec) {
    const guess = closest(verb.toLowerCase(), [...commandNames]);
    const near = distance(verb.toLowerCase(), guess) <= Math.max(2, Math.floor(guess.length / 2));
    const suggestion = near ? ` Did you mean \`${COMMAND_PREFIX} ${guess}\`?` : "";
    return {
      type: "reply",
      line,
      reason: `unknown command "${verb}"`,
      body: helpReply(`\`${verb}\` is not an orchestrator command.${suggestion}`),
    };
  }
  const built = spec.build(params);
  if ("error" in built) {
    return { type: "reply", line, reason: built.error, body: helpReply(`\`${line}\`: ${built.error}. Usage: \`${spec.usage}\``) };
  }
  return { type: "command", line, command: built };
}
