// Writes settings into a dotenv file: replaces the keys it is given, keeps every other line as it was.
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";

/**
 * Sets `values` in the dotenv file at `file` (created if missing, mode 0600 since it holds
 * secrets). A key already in the file is replaced where it stands, including a quoted value
 * that spans several lines; comments, blank lines and other keys are left untouched.
 */
export function mergeEnvFile(file: string, values: Readonly<Record<string, string>>): void {
  const lines = existsSync(file) ? readFileSync(file, "utf8").split(/\r?\n/) : [];
  if (lines.at(-1) === "") lines.pop();
  const pending = new Map(Object.entries(values));
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const key = /^\s*(?:export\s+)?([\w.-]+)\s*=/.exec(line)?.[1];
    if (key === undefined || !pending.has(key)) {
      out.push(line);
      continue;
    }
    // Skip the rest of a quoted value that continues on the following lines.
    const quote = /=\s*(["'`])/.exec(line)?.[1];
    if (quote && !closes(line.slice(line.indexOf(quote) + 1), quote)) {
      while (i + 1 < lines.length && !closes(lines[++i]!, quote));
    }
    out.push(`${key}=${quoteValue(pending.get(key)!)}`);
    pending.delete(key);
  }
  for (const [key, value] of pending) out.push(`${key}=${quoteValue(value)}`);
  writeFileSync(file, `${out.join("\n")}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
}

function closes(text: string, quote: string): boolean {
  return new RegExp(`(^|[^\\\\])${quote}\\s*(#.*)?$`).test(text);
}

/** One line that dotenv reads back as exactly `value` (double quotes expand `\n` to a newline). */
function quoteValue(value: string): string {
  if (/^[\w.:/@+-]*$/.test(value)) return value;
  if (!value.includes('"') && !value.includes("\\")) return `"${value.replace(/\r?\n/g, "\\n")}"`;
  if (!value.includes("'") && !value.includes("\n")) return `'${value}'`;
  throw new Error(`cannot write a value with both quotes and newlines to a dotenv file (${value.length} characters)`);
}
