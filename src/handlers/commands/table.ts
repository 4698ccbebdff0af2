// The slash-command table: every command's usage, who may use it and examples. The parser and the help text both read it.
import { runTypes, type RunType } from "../../orchestrator/run-request.js";
import { checklistItems, type ChecklistItem, type CommandAccess, type SlashCommand } from "../../orchestrator/triggers/command.js";

export const COMMAND_PREFIX = "/orchestrator";

export interface CommandSpec {
  readonly name: SlashCommand["name"];
  readonly usage: string;
  readonly description: string;
  readonly access: CommandAccess;
  readonly examples: readonly string[];
  /** Builds the command from its arguments, or returns what is wrong with them. */
  readonly build: (args: readonly string[]) => SlashCommand | { readonly error: string };
}

const noArgs =
  (name: "plan" | "build" | "verify" | "cancel" | "retry"): CommandSpec["build"] =>
  (args) =>
    args.length === 0 ? { name, access: "write" } : { error: `\`${COMMAND_PREFIX} ${name}\` takes no arguments` };

function item(arg: string | undefined): ChecklistItem | { error: string } {
  const v = arg?.toLowerCase();
  if (v && (checklistItems as readonly string[]).includes(v)) return v as ChecklistItem;
  return { error: `name a checklist item: one of ${checklistItems.join(", ")}${arg ? ` (got "${arg}")` : ""}` };
}

export const commandTable: readonly CommandSpec[] = [
  {
    name: "plan",
    usage: `${COMMAND_PREFIX} plan`,
    description: "Start a run that stops after the Planner, so the plan can be reviewed first.",
    access: "write",
    examples: [`${COMMAND_PREFIX} plan`],
    build: noArgs("plan"),
  },
  {
    name: "build",
    usage: `${COMMAND_PREFIX} build`,
    description: "Start a run through Planner and Builder, stopping before the Verifier.",
    access: "write",
    examples: [`${COMMAND_PREFIX} build`],
    build: noArgs("build"),
  },
  {
    name: "verify",
    usage: `${COMMAND_PREFIX} verify`,
    description: "Start a full run: Planner, Builder and the Verifier's gates.",
    access: "write",
    examples: [`${COMMAND_PREFIX} verify`],
    build: noArgs("verify"),
  },
  {
    name: "run",
    usage: `${COMMAND_PREFIX} run <type>`,
    description: `Start a run of the given type: ${runTypes.join(", ")}.`,
    access: "write",
    examples: [`${COMMAND_PREFIX} run impl_change`, `${COMMAND_PREFIX} run conformance_update`],
    build: (args) => {
      const t = args[0]?.toLowerCase();
      if (args.length !== 1 || !t) return { error: `name one run type: ${runTypes.join(", ")}` };
      if (!(runTypes as readonly string[]).includes(t)) return { error: `"${args[0]}" is not a run type; use one of ${runTypes.join(", ")}` };
      return { name: "run", access: "write", runType: t as RunType };
    },
  },
  {
    name: "approve",
    usage: `${COMMAND_PREFIX} approve <item>`,
    description: `Approve a checklist item of this run (${checklistItems.join(", ")}).`,
    access: "write",
    examples: [`${COMMAND_PREFIX} approve plan`],
    build: (args) => {
      const i = item(args[0]);
      if (typeof i === "object") return i;
      return args.length === 1 ? { name: "approve", access: "write", item: i } : { error: "approve takes exactly one checklist item" };
    },
  },
  {
    name: "reject",
    usage: `${COMMAND_PREFIX} reject <item> [reason]`,
    description: "Reject a checklist item, optionally saying why (quote a reason with spaces or write it after the item).",
    access: "write",
    examples: [`${COMMAND_PREFIX} reject risk "touches the billing schema"`, `${COMMAND_PREFIX} reject plan too broad`],
    build: (args) => {
      const i = item(args[0]);
      if (typeof i === "object") return i;
      const reason = args.slice(1).join(" ").trim();
      return { name: "reject", access: "write", item: i, reason: reason || null };
    },
  },
  {
    name: "cancel",
    usage: `${COMMAND_PREFIX} cancel`,
    description: "Cancel the run on this issue, PR or MR.",
    access: "write",
    examples: [`${COMMAND_PREFIX} cancel`],
    build: noArgs("cancel"),
  },
  {
    name: "retry",
    usage: `${COMMAND_PREFIX} retry`,
    description: "Retry the last failed run on this issue, PR or MR.",
    access: "write",
    examples: [`${COMMAND_PREFIX} retry`],
    build: noArgs("retry"),
  },
  {
    name: "status",
    usage: `${COMMAND_PREFIX} status`,
    description: "List the run requests and the runs (id, type, status) for this issue, PR, MR or Jira issue.",
    access: "anyone",
    examples: [`${COMMAND_PREFIX} status`],
    build: () => ({ name: "status", access: "anyone" }),
  },
  {
    name: "help",
    usage: `${COMMAND_PREFIX} help`,
    description: "Show this help.",
    access: "anyone",
    examples: [`${COMMAND_PREFIX} help`],
    build: () => ({ name: "help", access: "anyone" }),
  },
];

export const commandNames = commandTable.map((c) => c.name);

export const accessText: Record<CommandAccess, string> = {
  anyone: "anyone who can comment",
  write: "users with write access (GitHub), Developer or higher (GitLab), or a mapped Jira user",
};
