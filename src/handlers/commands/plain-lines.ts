// The lines of a comment that its readers see as plain text: not quoted, not code, not hidden, in the markup of the forge or tracker it was written on.
import type { EventSource } from "../../events/schema.js";

/**
 * What each source renders. GitHub and GitLab: Markdown (CommonMark), where an HTML comment is
 * hidden; GitLab adds `>>>` multi-line quotes. Jira: wiki markup (`{code}`, `{noformat}`,
 * `{quote}`, `bq.`), where `<!--` is literal text; its rich-text (ADF) comments reach us rendered
 * as Markdown fences and `>` quotes (src/events/jira.ts), so those are read for every source.
 */
interface Dialect {
  readonly htmlComments: boolean;
  /** Markdown's lazy continuation: a line right after quoted text, with no `>`, is still in the quote. */
  readonly lazyQuotes: boolean;
  readonly multiLineQuotes: boolean;
  readonly wikiBlocks: boolean;
}

const dialects: Record<EventSource, Dialect> = {
  github: { htmlComments: true, lazyQuotes: true, multiLineQuotes: false, wikiBlocks: false },
  gitlab: { htmlComments: true, lazyQuotes: true, multiLineQuotes: true, wikiBlocks: false },
  jira: { htmlComments: false, lazyQuotes: false, multiLineQuotes: false, wikiBlocks: true },
};

// Structure is read on the raw characters, as the renderers do: a no-break or zero-width space
// before a fence, a `>>>` or inside a `-->` makes it not one, whatever it looks like.
const fence = /^ {0,3}(`{3,}|~{3,})/;
const multiQuoteFence = /^ {0,3}>>>$/;
const quoted = /^ {0,3}>/;
const indentedCode = /^( {4}|\t)/;
const wikiBlock = /\{(code|noformat|quote)(:[^}]*)?\}/i;
const wikiQuoteLine = /^bq\.\s/i;
const htmlBlockStart = /^ {0,3}<!--/;
/** A whole HTML comment (CommonMark 0.31: `<!-->` and `<!--->` are complete, empty comments). */
const completeComment = /<!--(?:-?>|[\s\S]*?-->)/g;
const codeSpan = /(`+)(?!`)[\s\S]*?(?<!`)\1(?!`)/g;
const trailingSpace = /[ \t]+$/;

export function plainLines(text: string, source: EventSource): string[] {
  const d = dialects[source];
  const lines = text.split(/\r?\n|\r/).map((l) => l.replace(trailingSpace, ""));
  const out: string[] = [];
  let openFence: string | null = null;
  let wiki: string | null = null;
  let multiQuote = false;
  let htmlBlock = false;
  let inlineComment = false;
  /** The previous line was quoted text, which a non-blank line right after continues. */
  let lazyQuote = false;
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    const blank = line.trim() === "";
    if (htmlBlock) {
      // The line that ends an HTML block belongs to it, all of it.
      if (line.includes("-->")) htmlBlock = false;
      continue;
    }
    if (inlineComment) {
      // What follows the comment on its last line continues a paragraph: it does not start a line.
      if (line.includes("-->")) inlineComment = false;
      continue;
    }
    if (openFence) {
      const m = fence.exec(line);
      if (m && m[1]![0] === openFence[0] && m[1]!.length >= openFence.length && line.replace(/^ +/, "") === m[1]) openFence = null;
      continue;
    }
    if (wiki) {
      if (new RegExp(`\\{${wiki}\\}`, "i").test(line)) wiki = null;
      continue;
    }
    if (multiQuote) {
      if (multiQuoteFence.test(line)) multiQuote = false;
      continue;
    }
    const f = fence.exec(line);
    if (f) {
      // A fence ends a quote's paragraph: it opens a code block even right after quoted text.
      lazyQuote = false;
      openFence = f[1]!;
      continue;
    }
    if (lazyQuote && !blank && !(d.htmlComments && htmlBlockStart.test(line))) continue;
    lazyQuote = false;
    if (d.wikiBlocks) {
      const opened = openWikiBlocks(line);
      if (opened.block) wiki = opened.block;
      if (opened.rest === null) continue;
      line = opened.rest;
      if (wikiQuoteLine.test(line)) continue;
    }
    if (d.multiLineQuotes && multiQuoteFence.test(line)) {
      multiQuote = true;
      continue;
    }
    if (quoted.test(line)) {
      lazyQuote = d.lazyQuotes && line.replace(/^ {0,3}>[ >]*/, "").trim() !== "";
      continue;
    }
    if (indentedCode.test(line)) continue;
    if (d.htmlComments) {
      if (htmlBlockStart.test(line)) {
        const after = line.slice(line.indexOf("<!--") + 4);
        htmlBlock = !/^-?>/.test(after) && !after.includes("-->");
        continue;
      }
      line = line.replace(completeComment, "");
      const open = openerOutsideCode(line);
      // An opener with no `-->` before the paragraph ends (a blank line) is literal text.
      if (open >= 0 && closesBeforeBlank(lines, i + 1)) {
        inlineComment = true;
        line = line.slice(0, open).replace(trailingSpace, "");
      }
    }
    out.push(line);
  }
  return out;
}

/**
 * Jira wiki blocks on a line: `{code}x{code}` opens and closes at once (the rest of the line is
 * still read); an unclosed one opens a block. `rest` is null when nothing of the line is plain.
 */
function openWikiBlocks(line: string): { block: string | null; rest: string | null } {
  let rest = line;
  for (let guard = 0; guard < 50; guard++) {
    const m = wikiBlock.exec(rest);
    if (!m) return { block: null, rest };
    const name = m[1]!.toLowerCase();
    const after = rest.slice(m.index + m[0].length);
    const close = new RegExp(`\\{${name}\\}`, "i").exec(after);
    const before = rest.slice(0, m.index);
    if (!close) return { block: name, rest: before.trim() === "" ? null : before.replace(trailingSpace, "") };
    rest = before + after.slice(close.index + close[0].length);
  }
  return { block: null, rest };
}

/** Where `<!--` opens a comment on `line`, outside code spans; -1 when it does not. */
function openerOutsideCode(line: string): number {
  const masked = line.replace(codeSpan, (s) => " ".repeat(s.length));
  return masked.indexOf("<!--");
}

function closesBeforeBlank(lines: readonly string[], from: number): boolean {
  for (let j = from; j < lines.length; j++) {
    if (lines[j]!.trim() === "") return false;
    if (lines[j]!.includes("-->")) return true;
  }
  return false;
}
