// Runs the benchmarks (each bench/*.bench.ts in its own process) and rewrites their sections of docs/benchmarks.md.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
const docPath = path.join(root, "docs", "benchmarks.md");
const filters = process.argv.slice(2);

const benches = readdirSync(path.join(root, "bench"))
  .filter((f) => f.endsWith(".bench.ts"))
  .map((f) => f.replace(/\.bench\.ts$/, ""))
  .filter((name) => filters.length === 0 || filters.some((f) => name.includes(f)))
  .sort();
if (benches.length === 0) {
  process.stderr.write(`no benchmark matches ${filters.join(" ")}\n`);
  process.exit(2);
}

const sections = parseSections(existsSync(docPath) ? readFileSync(docPath, "utf8") : "");
for (const name of benches) {
  process.stderr.write(`bench ${name} …\n`);
  // Own process per benchmark: memory figures are not polluted by the others.
  const out = execFileSync(process.execPath, ["--import", "tsx", "--expose-gc", path.join(root, "bench", `${name}.bench.ts`)], {
    cwd: root,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    maxBuffer: 16 * 1024 * 1024,
  });
  const command = `npm run bench -- ${name}`;
  sections.set(name, `${out.trim()}\n\nMeasured ${new Date().toISOString().slice(0, 10)} with \`${command}\`.`);
}

const cpu = os.cpus()[0]?.model ?? "unknown CPU";
const header = [
  "# Benchmarks",
  "",
  "Written by `npm run bench` (all) or `npm run bench -- NAME` (one section); do not edit by hand.",
  "Each figure is the median of the rounds stated, measured side by side with its reference in the same run.",
  "",
  `Last run on: ${os.cpus().length} × ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}.`,
].join("\n");
const body = [...sections.entries()]
  .sort(([a], [b]) => a.localeCompare(b))
  .map(([name, text]) => `<!-- bench:${name} -->\n${text}\n<!-- /bench:${name} -->`)
  .join("\n\n");
writeFileSync(docPath, `${header}\n\n${body}\n`);
process.stderr.write(`wrote ${path.relative(root, docPath)}\n`);

function parseSections(doc: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const m of doc.matchAll(/<!-- bench:([\w-]+) -->\n([\s\S]*?)\n<!-- \/bench:\1 -->/g)) map.set(m[1]!, m[2]!);
  return map;
}
