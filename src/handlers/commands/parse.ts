// Finds `/orchestrator …` command lines in a comment: line-anchored, not inside quotes or code, arguments split like a shell.
import { closest, distance } from "fastest-levenshtein";
import { parse as shellParse } from "shell-quote";
import type { CommandLine } from "../../orchestrator/triggers/command.js";
import { helpReply } from "./help.js";
import { COMMAND_PREFIX, commandNames, commandTable } from "./table.js";

/** More command lines than this in one comment are not read: one comment, a handful of commands. */
const MAX_COMMANDS = 10;
const commandLine = new RegExp(`^${COMMAND_PREFIX.replace("/", "\\/")}(?:[ \\t]+(.*))?$`, "i");
const fence = /^ {0,3}(`{3,}|~{3,})/;
const jiraBlock = /^\s*\{(code|noformat|quote)(:[^}]*)?\}/i;
/**
 * Editors put these where a space was typed: Jira's and mobile keyboards' no-break spaces, and
 * other Unicode spaces. Read as spaces (`/orchestrator\u00a0plan` is a command); zero-width
 * characters, invisible, are dropped.
 */
const UNICODE_SPACE = /[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]/g;
const ZERO_WIDTH = /[\u200b-\u200d\u2060\ufeff]/g;
/** GitLab's multi-line quote: the lines between two `>>>` lines are quoted, without `>` of their own. */
const multiQuoteFence = /^ {0,3}>>>$/;

/**
 * The lines of `text` that are not quoted, not code and not hidden (Markdown, GitLab's `>>>`
 * quotes and Jira wiki markup). HTML comments are hidden: GitHub and GitLab render `<!-- … -->` as nothing, so a
 * command inside one (an issue or PR template's, say) is one nobody reading the thread can see.
 */
function plainLines(text: string): string[] {
  const out: string[] = [];
  let openFence: string | null = null;
  let jira: string | null = null;
  let inComment = false;
  let multiQuote = false;
  for (const raw of text.split(/\r?\n|\r/)) {
    let line = raw.replace(UNICODE_SPACE, " ").replace(ZERO_WIDTH, "").replace(/\s+$/, "");
    if (inComment) {
      const end = line.indexOf("-->");
      if (end < 0) continue;
      inComment = false;
      line = line.slice(end + 3);
    }
    if (openFence) {
      const m = fence.exec(line);
      if (m && m[1]![0] === openFence[0] && m[1]!.length >= openFence.length && line.trim() === m[1]) openFence = null;
      continue;
    }
    if (jira) {
      if (new RegExp(`\\{${jira}\\}\\s*$`, "i").test(line)) jira = null;
      continue;
    }
    if (multiQuote) {
      if (multiQuoteFence.test(line)) multiQuote = false;
      continue;
    }
    const f = fence.exec(line);
    if (f) {
      openFence = f[1]!;
      continue;
    }
    const j = jiraBlock.exec(line);
    if (j) {
      // `{code}x{code}` on one line opens and closes at once.
      const rest = line.slice(j.index + j[0].length);
      if (!new RegExp(`\\{${j[1]}\\}`, "i").test(rest)) jira = j[1]!.toLowerCase();
      continue;
    }
    line = line.replace(/<!--[\s\S]*?-->/g, "");
    const open = line.indexOf("<!--");
    if (open >= 0) {
      inComment = true;
      line = line.slice(0, open).replace(/\s+$/, "");
    }
    if (multiQuoteFence.test(line)) {
      multiQuote = true;
      continue;
    }
    if (/^ {0,3}>/.test(line) || /^bq\.\s/i.test(line)) continue; // quoted
    if (/^( {4}|\t)/.test(line)) continue; // indented code
    out.push(line);
  }
  return out;
}

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

export function parseCommands(text: string): CommandLine[] {
  const out: CommandLine[] = [];
  for (const line of plainLines(text)) {
    if (out.length >= MAX_COMMANDS) break;
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
