// The lines of a comment that its readers see as plain text: not quoted, not code, not hidden, in the markup of the forge or tracker it was written on.
import type { EventSource } from "../../events/schema.js";

/**
 * What each source renders. GitHub and GitLab: Markdown (CommonMark), where an HTML comment is
 * hidden; GitLab adds `>>>` multi-line quotes. Jira: wiki markup (`{code}`, `{noformat}`,
 * `{quote}`, `bq.`), where `<!--` is literal text; its rich-text (ADF) comments reach us rendered
 * as Markdown fences and `>` quotes (src/events/jira.ts), so those are read for every source.
 */
interface Dialect {
  /**
   * CommonMark: HTML blocks and comments, code spans over lines, and lazy continuation (a line right
   * after a quoted paragraph, with no `>`, is still in the quote). Without it, Jira wiki markup.
   */
  readonly markdown: boolean;
  /** GitLab's `>>>` multi-line quotes. */
  readonly multiLineQuotes: boolean;
}

const dialects: Record<EventSource, Dialect> = {
  github: { markdown: true, multiLineQuotes: false },
  gitlab: { markdown: true, multiLineQuotes: true },
  jira: { markdown: false, multiLineQuotes: false },
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
/** CommonMark's raw-text HTML blocks: what is inside shows as preformatted text or not at all, never as a paragraph. */
const rawBlockStart = /^ {0,3}<(pre|script|style|textarea)(\s|>|$)/i;
const rawBlockEnd = /<\/(pre|script|style|textarea)>/i;
/**
 * CommonMark's other HTML blocks, which run to the next blank line: one opened by a block-level tag
 * (type 6, which may interrupt a paragraph), or by a tag alone on its line (type 7, which may not).
 * Their lines are raw HTML: a fence or a quote marker there is text, not structure.
 */
const blockTagStart =
  /^ {0,3}<\/?(address|article|aside|base|basefont|blockquote|body|caption|center|col|colgroup|dd|details|dialog|dir|div|dl|dt|fieldset|figcaption|figure|footer|form|frame|frameset|h[1-6]|head|header|hr|html|iframe|legend|li|link|main|menu|menuitem|nav|noframes|ol|optgroup|option|p|param|search|section|summary|table|tbody|td|tfoot|th|thead|title|tr|track|ul)(\s|\/?>|$)/i;
const loneTag = /^ {0,3}(<[A-Za-z][A-Za-z0-9-]*(\s+[A-Za-z_:][\w.:-]*(\s*=\s*("[^"]*"|'[^']*'|[^\s"'=<>`]+))?)*\s*\/?>|<\/[A-Za-z][A-Za-z0-9-]*\s*>)\s*$/;
/** A whole HTML comment (CommonMark 0.31: `<!-->` and `<!--->` are complete, empty comments). */
const completeComment = /<!--(?:-?>|[\s\S]*?-->)/g;
const codeSpan = /(`+)(?!`)[\s\S]*?(?<!`)\1(?!`)/g;
const trailingSpace = /[ \t]+$/;

export function plainLines(text: string, source: EventSource): string[] {
  const d = dialects[source];
  const lines = text.split(/\r?\n|\r/).map((l) => l.replace(trailingSpace, ""));
  const ahead = new Lookahead(lines);
  const out: string[] = [];
  let openFence: string | null = null;
  let wiki: string | null = null;
  let multiQuote = false;
  /** Inside an HTML block: a comment, ended by `-->`, or a raw-text block such as `<pre>`, ended by its closing tag. */
  let htmlBlock: RegExp | null = null;
  /** The last line an inline construct opened on an earlier line (a comment, a code span) spans: hidden through it. */
  let hiddenThrough = -1;
  /** The previous line was quoted paragraph text, which a line right after continues unless it starts a block. */
  let lazyQuote = false;
  /** A fence opened inside a quote: it ends with its closing fence or with the quote. */
  let quoteFence: string | null = null;
  /** Inside an HTML block that runs to the next blank line (CommonMark types 6 and 7), and in an unclosed comment there. */
  let htmlToBlank = false;
  let htmlCommentOpen = false;
  /** The previous line was a paragraph's, which a lone tag (type 7) cannot interrupt. */
  let inParagraph = false;
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    const blank = line.trim() === "";
    if (htmlBlock) {
      // The line that ends an HTML block belongs to it, all of it.
      if (htmlBlock.test(line)) htmlBlock = null;
      continue;
    }
    // What follows such a construct on its last line continues a paragraph: it does not start a line.
    if (i <= hiddenThrough) continue;
    if (openFence) {
      if (closesFence(line, openFence)) openFence = null;
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
    if (htmlToBlank) {
      // The block ends at the blank line whatever its HTML says; an unclosed comment in it hides the rest of it.
      if (blank) htmlToBlank = htmlCommentOpen = false;
      else if (htmlCommentOpen) htmlCommentOpen = !line.includes("-->");
      else if (line.replace(completeComment, "").includes("<!--")) htmlCommentOpen = true;
      else out.push(line.replace(completeComment, ""));
      continue;
    }
    const f = fence.exec(line);
    if (f) {
      // A fence ends a quote's paragraph: it opens a code block even right after quoted text.
      lazyQuote = inParagraph = false;
      openFence = f[1]!;
      continue;
    }
    if (d.markdown && (blockTagStart.test(line) || (!inParagraph && !lazyQuote && loneTag.test(line) && !rawBlockStart.test(line)))) {
      lazyQuote = inParagraph = false;
      htmlToBlank = true;
      continue;
    }
    // Lazy continuation goes on until something ends the quote's paragraph.
    if (lazyQuote && !interruptsParagraph(line)) continue;
    const quotedParagraphOpen: boolean = lazyQuote;
    lazyQuote = false;
    if (blank) inParagraph = false;
    // Jira's wiki blocks: `{code}`, `{noformat}`, `{quote}` and `bq.`.
    if (!d.markdown) {
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
      // Only a quoted paragraph goes on lazily: not a quoted heading, rule, fence, code or HTML.
      const content = line.replace(/^( {0,3}> ?)+/, "");
      const f = fence.exec(content);
      if (quoteFence) {
        if (closesFence(content, quoteFence)) quoteFence = null;
      } else if (f) quoteFence = f[1]!;
      // Within a quoted paragraph, an indented or lone-tag line continues it (neither interrupts a paragraph).
      const paragraph: boolean = isParagraphText(content) || (quotedParagraphOpen && content.trim() !== "" && !interruptsParagraph(content));
      lazyQuote = d.markdown && !quoteFence && !f && paragraph;
      continue;
    }
    quoteFence = null;
    if (indentedCode.test(line)) continue;
    if (d.markdown) {
      if (htmlBlockStart.test(line)) {
        const after = line.slice(line.indexOf("<!--") + 4);
        if (!/^-?>/.test(after) && !after.includes("-->")) htmlBlock = /-->/;
        continue;
      }
      if (rawBlockStart.test(line)) {
        if (!rawBlockEnd.test(line)) htmlBlock = rawBlockEnd;
        continue;
      }
      line = line.replace(completeComment, "");
      // An opener with no `-->` before the paragraph ends (a blank line) is literal text.
      const open = openerOutsideCode(line);
      const commentEnd = open >= 0 ? ahead.commentClose(i + 1) : -1;
      if (commentEnd >= 0) {
        hiddenThrough = commentEnd;
        line = line.slice(0, open).replace(trailingSpace, "");
      }
      // A code span may run over lines of a paragraph: a backtick run closed by one as long on a later line.
      const run = unclosedCodeSpan(line);
      const spanEnd = run ? ahead.backtickRun(i + 1, run.length) : -1;
      if (run && spanEnd >= 0) {
        hiddenThrough = Math.max(hiddenThrough, spanEnd);
        line = line.slice(0, run.index).replace(trailingSpace, "");
      }
    }
    if (!blank) inParagraph = true;
    out.push(line);
  }
  return out;
}

/** Whether `line` closes the fence `open`: the same character, at least as long, and nothing else on the line. */
function closesFence(line: string, open: string): boolean {
  const m = fence.exec(line);
  return m !== null && m[1]![0] === open[0] && m[1]!.length >= open.length && line.replace(/^ +/, "") === m[1];
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

/**
 * Where an inline construct opened on a line closes, before its paragraph ends (at a blank line, or
 * a line that starts another block): -1 when it does not. Answered from arrays built once per
 * comment, so a comment of thousands of unclosed openers costs linear time, not quadratic: the
 * screen runs before the 202, on text anyone who may comment writes.
 */
class Lookahead {
  /** paraEnd[i]: the first line at or after i that ends a paragraph (lines.length when none). */
  private readonly paraEnd: Int32Array;
  private readonly comments: Int32Array;
  private readonly runs = new Map<number, Int32Array>();

  constructor(private readonly lines: readonly string[]) {
    this.paraEnd = this.nextWhere(endsParagraph);
    this.comments = this.nextWhere((l) => l.includes("-->"));
  }

  /** The line from `from` on that holds a `-->`, within the paragraph. */
  commentClose(from: number): number {
    return this.within(from, this.comments);
  }

  /** The line from `from` on that holds a run of exactly `length` backticks, within the paragraph. */
  backtickRun(from: number, length: number): number {
    let next = this.runs.get(length);
    if (!next) {
      const run = new RegExp(`(?<!\`)\`{${length}}(?!\`)`);
      next = this.nextWhere((l) => run.test(l));
      this.runs.set(length, next);
    }
    return this.within(from, next);
  }

  private within(from: number, next: Int32Array): number {
    if (from >= this.lines.length) return -1;
    const j = next[from]!;
    return j < this.paraEnd[from]! ? j : -1;
  }

  /** For each line, the first line at or after it that `test` accepts (lines.length when none). */
  private nextWhere(test: (line: string) => boolean): Int32Array {
    const n = this.lines.length;
    const next = new Int32Array(n + 1);
    next[n] = n;
    for (let i = n - 1; i >= 0; i--) next[i] = test(this.lines[i]!) ? i : next[i + 1]!;
    return next;
  }
}

const atxHeading = /^ {0,3}#{1,6}([ \t]|$)/;
const thematicBreak = /^ {0,3}([-*_])([ \t]*\1){2,}[ \t]*$/;

/** A blank line, or one that starts a block able to interrupt a paragraph (CommonMark). */
function interruptsParagraph(line: string): boolean {
  return (
    line.trim() === "" ||
    fence.test(line) ||
    quoted.test(line) ||
    htmlBlockStart.test(line) ||
    rawBlockStart.test(line) ||
    blockTagStart.test(line) ||
    /^ {0,3}([*+-]|1[.)])[ \t]+\S/.test(line) ||
    atxHeading.test(line) ||
    thematicBreak.test(line)
  );
}

/** What ends a paragraph: a line that interrupts it, or a setext underline that makes it a heading. */
function endsParagraph(line: string): boolean {
  return interruptsParagraph(line) || /^ {0,3}=+[ \t]*$/.test(line);
}

/** Quoted text that is a paragraph's (which the next line may continue lazily), not a heading, rule, code or HTML. */
function isParagraphText(content: string): boolean {
  return (
    content.trim() !== "" &&
    !indentedCode.test(content) &&
    !atxHeading.test(content) &&
    !thematicBreak.test(content) &&
    !htmlBlockStart.test(content) &&
    !rawBlockStart.test(content) &&
    !blockTagStart.test(content) &&
    !loneTag.test(content)
  );
}

/** A backtick run on `line` that no run of the same length closes on it: where a code span over lines may open. */
function unclosedCodeSpan(line: string): { index: number; length: number } | null {
  // A heading is one line: a span cannot run on from it. Escaped backticks and ones inside a tag open nothing.
  if (atxHeading.test(line)) return null;
  const blank = (m: string) => " ".repeat(m.length);
  const masked = line.replace(/\\`/g, blank).replace(/<[A-Za-z/][^<>]*>/g, blank).replace(codeSpan, blank);
  const m = /`+/.exec(masked);
  return m ? { index: m.index, length: m[0].length } : null;
}
