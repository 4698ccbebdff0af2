// The repo config (`.github/orchestrator.yml` / `.gitlab/orchestrator.yml`): what a repository lets the orchestrator do.
import { z } from "zod";
import { RunType } from "../run-request.js";

const logins = z.array(z.string().min(1)).default([]);

export const RepoConfig = z
  .strictObject({
    enabled: z.boolean().default(true).describe("false turns the orchestrator off for this repository"),
    sensitivity: z
      .enum(["public", "internal", "confidential", "restricted"])
      .default("internal")
      .describe("Repo sensitivity; the model router allows providers per sensitivity"),
    triggers: z
      .strictObject({
        labels: z
          .record(z.string().min(1), RunType)
          .default({
            "orchestrator:spec": "spec_change",
            "orchestrator:impl": "impl_change",
            "orchestrator:conformance": "conformance_update",
            "orchestrator:release": "release_prep",
            "orchestrator:investigate": "watcher_investigation",
          })
          .describe("Label → run type: adding the label to an issue, PR or MR starts that run"),
        jira_transitions: z
          .record(z.string().min(1), RunType)
          .default({})
          .describe("Jira status → run type, on top of JIRA_TRANSITIONS (e.g. \"Ready for Agent\": impl_change)"),
        spec_paths: z
          .array(z.string().min(1))
          .default([])
          .describe("Globs; a PR/MR opened or updated that touches one starts a conformance_update run"),
        commands: z.boolean().default(true).describe("false ignores slash commands in this repository"),
      })
      .prefault({}),
    commands: z
      .strictObject({
        default_run_type: RunType.default("impl_change").describe("Run type of /orchestrator plan | build | verify"),
      })
      .prefault({}),
    bots: z
      .strictObject({ allow: logins.describe("Bot accounts (other than ours) whose events may start runs") })
      .prefault({}),
    forks: z
      .strictObject({
        allow_runs: z
          .boolean()
          .default(false)
          .describe("Runs on PRs/MRs from forks, only when a user with write access asks (label or command)"),
      })
      .prefault({}),
    jira: z
      .strictObject({ command_users: logins.describe("Jira accountIds allowed to start runs with slash commands, besides JIRA_COMMAND_USERS") })
      .prefault({}),
    gates: z
      .array(z.strictObject({ name: z.string().min(1), run: z.string().min(1) }))
      .default([])
      .describe("Deterministic checks the Verifier runs, in order"),
    paths: z
      .strictObject({
        allow: z.array(z.string().min(1)).default(["**"]).describe("Globs agents may change"),
        deny: z.array(z.string().min(1)).default([]).describe("Globs agents may never change"),
      })
      .prefault({}),
    approvers: z
      .strictObject({ spec: logins, plan: logins, risk: logins, release: logins })
      .prefault({})
      .describe("Who may approve each checklist item (logins); empty means anyone with write access"),
  })
  .describe("Scintilla Orchestrator repository configuration");

export type RepoConfig = z.infer<typeof RepoConfig>;

export const defaultRepoConfig: RepoConfig = RepoConfig.parse({});
