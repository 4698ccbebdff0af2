import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { helpMarkdown } from "../../../src/handlers/commands/help.js";
import { parseCommands } from "../../../src/handlers/commands/parse.js";
import { commandTable } from "../../../src/handlers/commands/table.js";
import type { EventSource } from "../../../src/events/schema.js";

const commands = (text: string, source: EventSource = "github") => parseCommands(text, source).map((c) => (c.type === "command" ? c.command : { reply: c.reason }));
const plan = { name: "plan", access: "write" };
const build = { name: "build", access: "write" };
const retry = { name: "retry", access: "write" };

describe("slash command parser", () => {
  // What each source's readers see as plain text, and what they see as code, quoted or hidden: the source's own markup.
  it.each<[EventSource, string, object[]]>([
    ["github", "/orchestrator plan", [plan]],
    ["github", "/orchestrator build", [build]],
    ["github", "/Orchestrator VERIFY", [{ name: "verify", access: "write" }]],
    ["github", "/orchestrator run impl_change", [{ name: "run", access: "write", runType: "impl_change" }]],
    ["github", "/orchestrator approve plan", [{ name: "approve", access: "write", item: "plan" }]],
    ["github", '/orchestrator reject risk "touches billing, see #12"', [{ name: "reject", access: "write", item: "risk", reason: "touches billing, see #12" }]],
    ["github", "/orchestrator reject plan too broad", [{ name: "reject", access: "write", item: "plan", reason: "too broad" }]],
    ["github", "/orchestrator reject release", [{ name: "reject", access: "write", item: "release", reason: null }]],
    ["github", "/orchestrator cancel", [{ name: "cancel", access: "write" }]],
    ["github", "/orchestrator retry", [{ name: "retry", access: "write" }]],
    ["github", "/orchestrator status", [{ name: "status", access: "anyone" }]],
    ["github", "/orchestrator help", [{ reply: "help" }]],
    ["github", "/orchestrator", [{ reply: "help" }]],
    ["github", "looks good\n/orchestrator build\nthanks", [build]],
    ["github", "/orchestrator plan\r\n/orchestrator status", [{ name: "plan", access: "write" }, { name: "status", access: "anyone" }]],
    ["github", "/orchestrator build # with a shell comment", [build]],
    // Not line-anchored, quoted, or in code: not a command.
    ["github", "please run /orchestrator build", []],
    ["github", "> /orchestrator build", []],
    ["github", "   > /orchestrator build", []],
    ["github", "```\n/orchestrator build\n```", []],
    ["github", "~~~~\n/orchestrator build\n~~~\n/orchestrator build\n~~~~", []],
    ["github", "```sh\n/orchestrator build\n```\n/orchestrator plan", [plan]],
    ["github", "    /orchestrator build", []],
    ["github", "\t/orchestrator build", []],
    ["github", "/orchestrators build", []],
    // Spaces as editors type them: no-break and other Unicode spaces, zero-width characters.
    ["github", "/orchestrator\u00a0plan", [plan]],
    ["github", "\ufeff/orchestrator reject\u2009plan\u00a0too broad\u00a0", [{ name: "reject", access: "write", item: "plan", reason: "too broad" }]],
    ["github", "/orchestrator\u200b build", [build]],
    // Hidden: an HTML comment renders as nothing on GitHub and GitLab.
    ["github", "<!--\n/orchestrator run impl_change\n-->", []],
    ["github", "<!-- template notes\r\n/orchestrator build -->\r\n/orchestrator plan", [plan]],
    ["github", "/orchestrator plan <!-- /orchestrator build -->", [plan]],
    ["github", "/orchestrator reject plan too broad <!-- hidden\n/orchestrator build\n--> /orchestrator status\n/orchestrator cancel", [{ name: "reject", access: "write", item: "plan", reason: "too broad" }, { name: "cancel", access: "write" }]],
    ["github", "```\n<!--\n```\n/orchestrator plan", [plan]],
    ["jira", "{code}\n/orchestrator build\n{code}", []],
    ["jira", "{code:bash}\n/orchestrator build\n{code} /orchestrator cancel\n/orchestrator plan", [plan]],
    ["jira", "{noformat}/orchestrator build{noformat}\n/orchestrator plan", [plan]],
    ["jira", "{quote}\n/orchestrator build\n{quote}", []],
    ["jira", "bq. /orchestrator build", []],
    ["jira", "Notes <!-- draft\n/orchestrator plan", [plan]],
    ["jira", "<!--\n/orchestrator plan\n-->", [plan]],
    ["github", "{code}\n/orchestrator build\n{code}", [build]],
    ["gitlab", ">>>\n/orchestrator build\n/orchestrator cancel\n>>>\n/orchestrator plan", [plan]],
    ["gitlab", ">>>\n/orchestrator build\n\u00a0>>>\n/orchestrator cancel\n>>>\n/orchestrator plan", [plan]],
    ["github", ">>>\n\n/orchestrator plan\n>>>", [plan]],
    // Structure is read on the raw characters: an invisible character makes a fence or a comment end not one.
    ["github", "<!--\n-\u200b->\n/orchestrator build", []],
    ["github", "```\n\u200b```\n/orchestrator build\n```", []],
    ["github", "```\n\u00a0```\n/orchestrator build\n```", []],
    // A comment opener only where Markdown reads one.
    ["github", "{code}x{code} <!--\n/orchestrator build\n-->", []],
    ["github", "Wrap notes in `<!--` like this.\n/orchestrator plan", [plan]],
    ["github", "> <!--\n\n/orchestrator plan", [plan]],
    ["github", "    <!--\n/orchestrator plan", [plan]],
    ["github", "<!-->\n/orchestrator plan", [plan]],
    ["github", "<!--->\n/orchestrator plan", [plan]],
    ["github", "text <!--\n\n/orchestrator build", [build]],
    ["gitlab", "<!-- hidden -->\n/orchestrator plan", [plan]],
    // Markdown's lazy continuation: a line right after quoted text is still in the quote.
    ["github", "> what about the tests?\n/orchestrator build\n\n/orchestrator plan", [plan]],
    ["jira", "> what about the tests?\n/orchestrator plan", [plan]],
    // Only a quoted paragraph goes on lazily: a reply that quotes a log, a heading or a rule, then commands.
    ["github", "> a\n===\n/orchestrator build", []],
    ["github", "> ```\n> boom\n> ```\n/orchestrator retry", [retry]],
    ["github", "> ```\n> boom\n/orchestrator retry", [retry]],
    ["github", "> ### :x: Run failed\n/orchestrator retry", [retry]],
    ["github", "> ---\n/orchestrator retry", [retry]],
    ["github", ">     stack trace\n/orchestrator retry", [retry]],
    ["github", "> <img src=x>\n/orchestrator retry", [retry]],
    // A heading is one line, an escaped backtick or one in a tag opens no code span.
    ["github", "## Don't use `\n/orchestrator build\nthe ` key", [build]],
    ["github", "a \\` b\n/orchestrator build\nc ` d", [build]],
    ["github", "<span title=\"`\">x</span>\n/orchestrator build\nz ` w", [build]],
    ["github", "> a quote\n```\n\n/orchestrator build\n```\n/orchestrator plan", [plan]],
    // Raw-text HTML blocks and code spans over lines are code too.
    ["github", "<pre>\n/orchestrator build\n</pre>\n/orchestrator plan", [plan]],
    ["github", "run it with ``\n/orchestrator build\n`` please\n/orchestrator plan", [plan]],
    ["github", "\u00a0```\n```sh\n/orchestrator build", []],
    // Other HTML blocks run to a blank line, and what is in them is raw HTML, not structure.
    ["github", "</div>\n```sh\n\n ```\n/orchestrator build", []],
    ["github", "<details>\n<summary>Log</summary>\n/orchestrator plan\n\n/orchestrator build", [plan, build]],
    ["github", "> a quote\n<!--\n\n/orchestrator build\n-->\n/orchestrator plan", [plan]],
  ])("%s: %j", (source, text, expected) => {
    expect(commands(text, source)).toEqual(expected);
  });

  it("answers an unknown verb with a suggestion and the help", () => {
    const [r] = parseCommands("/orchestrator biuld", "github");
    expect(r).toMatchObject({ type: "reply", reason: 'unknown command "biuld"' });
    expect(r?.type === "reply" && r.body).toContain("Did you mean `/orchestrator build`?");
    expect(r?.type === "reply" && r.body).toContain(helpMarkdown());
  });

  it("does not suggest when nothing is close", () => {
    const [r] = parseCommands("/orchestrator xyzzyplugh", "github");
    expect(r?.type === "reply" && r.body).not.toContain("Did you mean");
  });

  it.each([
    ["/orchestrator run", "name one run type"],
    ["/orchestrator run deploy", '"deploy" is not a run type'],
    ["/orchestrator approve", "name a checklist item"],
    ["/orchestrator approve everything", 'got "everything"'],
    ["/orchestrator build now", "takes no arguments"],
  ])("answers %j with what is wrong and the usage", (text, why) => {
    const [r] = parseCommands(text, "github");
    expect(r).toMatchObject({ type: "reply" });
    expect(r?.type === "reply" && r.reason).toContain(why);
    expect(r?.type === "reply" && r.body).toContain("Usage:");
  });

  it("does not expand shell variables", () => {
    expect(commands("/orchestrator reject plan $HOME")).toEqual([{ name: "reject", access: "write", item: "plan", reason: "$HOME" }]);
  });

  it("reads at most ten commands from one comment", () => {
    expect(parseCommands("/orchestrator status\n".repeat(50), "github")).toHaveLength(10);
  });

  it("has help generated from the table: every command with usage, who, examples", () => {
    const help = helpMarkdown();
    for (const c of commandTable) {
      expect(help).toContain(c.usage);
      for (const e of c.examples) expect(help).toContain(e);
    }
    expect(help).toContain("users with write access");
  });

  it("never throws, whatever the comment", () => {
    const line = fc.oneof(
      fc.string(),
      fc.string().map((s) => `/orchestrator ${s}`),
      fc.constantFrom("```", "~~~", "> ", "{code}", "{quote}", "    ", '"', "'", "\\", "$(", "`"),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 20 }), fc.constantFrom("\n", "\r\n", "\r"), (lines, nl) => {
        const out = parseCommands(lines.join(nl), "github");
        expect(out.length).toBeLessThanOrEqual(10);
      }),
      { numRuns: 3000 },
    );
    fc.assert(fc.property(fc.string({ unit: "binary" }), fc.constantFrom<EventSource>("github", "gitlab", "jira"), (s, source) => void parseCommands(s, source)), { numRuns: 3000 });
  });
});
