// Reads the shared vendor fixtures (request bodies + the headers each delivery carries) from beside the repo.
import { readFileSync } from "node:fs";
import path from "node:path";

const repoRoot = path.resolve(import.meta.dirname, "../..");
const fixturesDir = path.resolve(repoRoot, "../shared/fixtures");

export interface Fixture {
  readonly file: string;
  /** The exact bytes of the delivery body. */
  readonly body: string;
  /** Headers (GitLab) or body fields (Jira) that `headers.json` lists for this file. */
  readonly meta: Readonly<Record<string, string>>;
}

/** Every fixture of a vendor, in the order `headers.json` lists them. */
export function fixtures(vendor: "gitlab" | "jira"): Fixture[] {
  const dir = path.join(fixturesDir, vendor);
  const index = JSON.parse(readFileSync(path.join(dir, "headers.json"), "utf8")) as Record<string, Record<string, string>>;
  return Object.entries(index).map(([file, meta]) => ({ file, meta, body: readFileSync(path.join(dir, file), "utf8") }));
}
