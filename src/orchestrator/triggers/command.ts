// What a slash command means to the orchestrator, independent of how a comment was parsed.
import type { EventSource } from "../../events/schema.js";
import type { RunType } from "../run-request.js";

export const checklistItems = ["spec", "plan", "risk", "release"] as const;
export type ChecklistItem = (typeof checklistItems)[number];

/** Who may use a command: `write` = GitHub write access / GitLab Developer+ / a mapped Jira user. */
export type CommandAccess = "anyone" | "write";

export type SlashCommand =
  | { readonly name: "plan" | "build" | "verify"; readonly access: "write" }
  | { readonly name: "run"; readonly access: "write"; readonly runType: RunType }
  | { readonly name: "approve"; readonly access: "write"; readonly item: ChecklistItem }
  | { readonly name: "reject"; readonly access: "write"; readonly item: ChecklistItem; readonly reason: string | null }
  | { readonly name: "cancel" | "retry"; readonly access: "write" }
  | { readonly name: "status" | "help"; readonly access: "anyone" };

/** Commands that run code of the PR/MR they are on: a new run, or a failed one again; so where the PR comes from matters. */
export const forkGatedCommands: ReadonlySet<SlashCommand["name"]> = new Set(["plan", "build", "verify", "run", "retry"]);

/** One command line of a comment: a command to act on, or a reply to give (help, "did you mean", usage). */
export type CommandLine =
  | { readonly type: "command"; readonly line: string; readonly command: SlashCommand }
  | { readonly type: "reply"; readonly line: string; readonly reason: string; readonly body: string };

/** Reads the slash commands in a comment written on `source` (GitHub, GitLab or Jira markup); never throws. */
export type CommandReader = (text: string, source: EventSource) => CommandLine[];
