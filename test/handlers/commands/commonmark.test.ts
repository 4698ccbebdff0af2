// The parser against CommonMark's reference implementation: on GitHub, no command is read from text a reader does not see as plain text.
import { Parser, type Node } from "commonmark";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseCommands } from "../../../src/handlers/commands/parse.js";

const commandStart = /^\/orchestrator(\s|$)/i;
const parser = new Parser();

function insideQuote(node: Node): boolean {
  for (let p = node.parent; p; p = p.parent) if (p.type === "block_quote") return true;
  return false;
}

/**
 * The lines CommonMark renders as readable text that starts with the command: lines of a
 * paragraph or heading outside quotes (a line starts after a line break; code spans, links and
 * the like are not plain text), and text lines of an HTML block other than a comment or a
 * raw-text block such as `<pre>` (which the browser shows as preformatted, or not at all).
 */
function visibleCommandLines(markdown: string): string[] {
  const out: string[] = [];
  const walker = parser.parse(markdown).walker();
  for (let ev = walker.next(); ev; ev = walker.next()) {
    const node = ev.node;
    if (!ev.entering || insideQuote(node)) continue;
    if (node.type === "html_block") {
      const html = node.literal ?? "";
      if (!/^\s*<(pre|script|style|textarea|!--)/i.test(html)) out.push(...html.split("\n").filter((l) => commandStart.test(l)));
      continue;
    }
    if (node.type !== "paragraph" && node.type !== "heading") continue;
    let line = "";
    let plain = true;
    const end = () => {
      if (plain && commandStart.test(line)) out.push(line);
      line = "";
      plain = true;
    };
    for (let c = node.firstChild; c; c = c.next) {
      if (c.type === "softbreak" || c.type === "linebreak") end();
      else if (c.type === "text") line += c.literal ?? "";
      else if (c.type === "html_inline" && (c.literal ?? "").startsWith("<!--")) continue;
      else {
        if (line === "") plain = false;
        line += "\u0000";
      }
    }
    end();
  }
  return out.map(normal);
}

const normal = (line: string) => line.trim().replace(/\s+/g, " ");

/** Lines that make and break the structures in question, with the invisible characters that fool a naive reader. */
const pieces = [
  "/orchestrator build",
  "/orchestrator plan",
  "/orchestrator cancel",
  " /orchestrator build",
  "\t/orchestrator build",
  "- /orchestrator build",
  "> /orchestrator build",
  "> q",
  ">",
  "  > q",
  "> ```",
  "> <!--",
  "```",
  "```sh",
  "````",
  "~~~",
  " ```",
  "\u200b```",
  "\u00a0```",
  "    x",
  "<!--",
  "-->",
  "-\u200b->",
  "<!-- a -->",
  "<!-->",
  "text <!--",
  "`<!--`",
  "see ``",
  "`` more",
  "<pre>",
  "</pre>",
  "<div>",
  "</div>",
  "<details>",
  "<summary>x</summary>",
  "<span>",
  "</span>",
  "<p>",
  "===",
  "> ### h",
  "> ---",
  ">     code",
  "> <img src=x>",
  "## h `",
  "a \\` b",
  "* item",
  "1. item",
  "# h",
  "---",
  "x",
  "",
  "",
];

describe("slash commands on GitHub, against CommonMark", () => {
  it("reads no command from a line CommonMark does not render as plain text", () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...pieces), { minLength: 1, maxLength: 8 }), (lines) => {
        const markdown = lines.join("\n");
        const visible = new Set(visibleCommandLines(markdown));
        const read = parseCommands(markdown, "github").map((c) => normal(c.line));
        expect(read.filter((l) => !visible.has(l)), JSON.stringify(markdown)).toEqual([]);
      }),
      { numRuns: 3000 },
    );
  });

  it("reads the commands on plain lines", () => {
    const markdown = "> quoted\n\n/orchestrator plan\n```\n/orchestrator build\n```\n<pre>\n/orchestrator cancel\n</pre>\n\n/orchestrator status";
    expect(visibleCommandLines(markdown)).toEqual(["/orchestrator plan", "/orchestrator status"]);
    expect(parseCommands(markdown, "github").map((c) => c.line)).toEqual(["/orchestrator plan", "/orchestrator status"]);
  });
});
