// Loads a repository's orchestrator config from its default branch, following `_extends` like Probot does.
import { parse as parseYaml, YAMLParseError } from "yaml";
import type { z } from "zod";
import type { EventRepo } from "../../events/schema.js";
import type { RepoFileReader } from "../forge-ports.js";
import { RepoConfig } from "./schema.js";

export type ConfigResult =
  | { readonly ok: true; readonly config: RepoConfig; readonly sources: readonly string[] }
  | { readonly ok: false; readonly error: string };

const MAX_EXTENDS = 5;

/** Where the config lives on each forge. */
export function configPath(forge: EventRepo["forge"]): string {
  return forge === "github" ? ".github/orchestrator.yml" : ".gitlab/orchestrator.yml";
}

/**
 * The repo's config from its DEFAULT branch only, so a PR cannot change its own rules. A repo
 * without the file uses the owner's `.github` repository's file (GitHub), then the defaults.
 */
export async function loadRepoConfig(reader: RepoFileReader, repo: EventRepo): Promise<ConfigResult> {
  const file = configPath(repo.forge);
  try {
    const chain: string[] = [];
    let raw = await readLayer(reader, repo, repo.full_path, file, chain);
    if (raw === null && repo.forge === "github") {
      const owner = repo.full_path.split("/")[0]!;
      if (`${owner}/.github` !== repo.full_path) raw = await readLayer(reader, repo, `${owner}/.github`, file, chain);
    }
    const merged = raw ?? {};
    const parsed = RepoConfig.safeParse(merged, { reportInput: true });
    if (!parsed.success) return { ok: false, error: describe(chain.at(-1) ?? file, parsed.error) };
    return { ok: true, config: parsed.data, sources: chain };
  } catch (err) {
    if (err instanceof ConfigFileError) return { ok: false, error: err.message };
    throw err;
  }
}

class ConfigFileError extends Error {}

/** Reads one file and, recursively, what it extends; returns the merged object or null when the file does not exist. */
async function readLayer(
  reader: RepoFileReader,
  repo: EventRepo,
  fullPath: string,
  file: string,
  chain: string[],
): Promise<Record<string, unknown> | null> {
  const where = `${fullPath}:${file}`;
  if (chain.includes(where)) throw new ConfigFileError(`${chain[0]}: _extends loops back to ${where}`);
  if (chain.length >= MAX_EXTENDS) throw new ConfigFileError(`${chain[0]}: _extends is nested deeper than ${MAX_EXTENDS} files`);
  const text = await reader.readDefaultBranchFile(repo, fullPath, file);
  if (text === null) {
    if (chain.length > 0) throw new ConfigFileError(`${chain.at(-1)}: _extends points at ${where}, which does not exist on its default branch`);
    return null;
  }
  chain.push(where);
  const doc = parseDocument(text, where);
  const ext = doc["_extends"];
  delete doc["_extends"];
  if (ext === undefined) return doc;
  if (typeof ext !== "string" || ext.trim() === "") throw new ConfigFileError(`${where}: _extends must be "repo", "owner/repo" or "owner/repo:path", got ${JSON.stringify(ext)}`);
  const target = parseExtends(ext.trim(), fullPath, file);
  const base = await readLayer(reader, repo, target.fullPath, target.file, chain);
  return deepMerge(base ?? {}, doc);
}

/** `other` (same owner), `owner/repo` or `owner/repo:path/to/file.yml` (Probot's `_extends` forms; GitLab groups may nest). */
export function parseExtends(value: string, fromFullPath: string, defaultFile: string): { fullPath: string; file: string } {
  const [repoPart, file] = value.includes(":") ? [value.slice(0, value.indexOf(":")), value.slice(value.indexOf(":") + 1)] : [value, defaultFile];
  const fullPath = repoPart.includes("/") ? repoPart : `${fromFullPath.split("/").slice(0, -1).join("/")}/${repoPart}`;
  return { fullPath, file: file || defaultFile };
}

function parseDocument(text: string, where: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    const pos = err instanceof YAMLParseError && err.linePos ? ` at line ${err.linePos[0].line}, column ${err.linePos[0].col}` : "";
    throw new ConfigFileError(`${where}: not valid YAML${pos}: ${(err as Error).message.split("\n")[0]}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== "object" || Array.isArray(doc)) throw new ConfigFileError(`${where}: must be a YAML mapping (key: value), got ${Array.isArray(doc) ? "a list" : typeof doc}`);
  return doc as Record<string, unknown>;
}

/** Later layers win; mappings merge key by key, lists and scalars are replaced whole. */
function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isMapping(b) && isMapping(v) ? deepMerge(b, v) : v;
  }
  return out;
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function describe(where: string, error: z.ZodError): string {
  const lines = error.issues.slice(0, 10).map((i) => {
    const path = i.path.map(String).join(".") || "(top level)";
    const got = "input" in i && i.input !== undefined ? `, got ${JSON.stringify(i.input)}` : "";
    return `- \`${path}\`: ${i.message}${got}`;
  });
  return `${where} is not a valid orchestrator config:\n${lines.join("\n")}`;
}
