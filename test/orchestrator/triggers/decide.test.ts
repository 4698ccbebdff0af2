import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { parseCommands } from "../../../src/handlers/commands/parse.js";
import { normalize } from "../../../src/events/index.js";
import type { Event } from "../../../src/events/schema.js";
import { RepoConfig } from "../../../src/orchestrator/repo-config/schema.js";
import { decide, needsPullRequestHead, type Decision } from "../../../src/orchestrator/triggers/decide.js";
import { fixtures } from "../../helpers/fixtures.js";

const require = createRequire(import.meta.url);
const definitions = require("@octokit/webhooks-examples") as { name: string; examples: Record<string, unknown>[] }[];
const meta = { deliveryId: "d-1", receivedAt: new Date(), rawSha256: "0".repeat(64) };

function github(name: string, action: string | undefined, mutate: (p: Record<string, unknown>) => void = () => {}): Event {
  const payload = structuredClone(definitions.find((d) => d.name === name)!.examples.find((e) => e["action"] === action)!);
  mutate(payload);
  const r = normalize("github", name, payload, meta);
  if (r.status !== "event") throw new Error(JSON.stringify(r));
  return r.event;
}

function jira(to: string): Event {
  const p = JSON.parse(fixtures("jira").find((f) => f.file === "issue_updated.status.json")!.body);
  p.changelog.items[0].toString = to;
  const r = normalize("jira", "jira:issue_updated", p, meta);
  if (r.status !== "event") throw new Error(JSON.stringify(r));
  return r.event;
}

const mapped = { forge: "github" as const, host: "github.com", full_path: "acme/app", default_branch: null, id: null, installation_id: null };

function run(event: Event, config: Partial<Record<string, unknown>> = {}, changedFiles: string[] | null = null): Decision[] {
  return decide({
    event,
    repo: event.repo ?? mapped,
    config: RepoConfig.parse(config),
    jiraTransitions: { "Ready for Agent": "impl_change" },
    commands: event.kind === "comment_created" && event.text ? parseCommands(event.text, event.source) : [],
    changedFiles,
  });
}

const summary = (ds: Decision[]) =>
  ds.map((d) => {
    if (d.type === "run") return `run ${d.request.run_type} ${d.request.trigger} ${d.access}${d.request.stop_after ? ` until ${d.request.stop_after}` : ""}`;
    if (d.type === "ignored") return `ignored: ${d.reason}`;
    if (d.type === "control") return `control ${d.command.name}`;
    if (d.type === "review") return `review ${d.review.state}`;
    return d.type;
  });

/** GitHub's documented pull_request_review.submitted delivery, with the review state GitHub sends (upper case). */
const review = (state: string) =>
  github("pull_request_review", "submitted", (p) => {
    (p["review"] as Record<string, unknown>)["state"] = state;
  });

/** A comment on a PR (or an issue); `head` fills in what the processor reads from GitHub before deciding, null leaves it unknown. */
const comment = (text: string, onPr = true, head: { is_fork: boolean } | null = { is_fork: false }): Event => {
  const e = github("issue_comment", "created", (p) => {
    (p["comment"] as Record<string, unknown>)["body"] = text;
    if (onPr) (p["issue"] as Record<string, unknown>)["pull_request"] = { url: "https://api.github.com/repos/x/y/pulls/1" };
  });
  return onPr && head ? { ...e, subject: { ...e.subject, ...head } } : e;
};
const labeled = (label: string, name = "issues") =>
  github(name, "labeled", (p) => {
    p["label"] = { name: label };
  });

describe("triggers", () => {
  it.each<[string, () => Event, Partial<Record<string, unknown>>, string[]]>([
    ["a trigger label on an issue", () => labeled("orchestrator:impl"), {}, ["run impl_change label:orchestrator:impl none"]],
    ["a custom trigger label on a PR", () => labeled("agent:spec", "pull_request"), { triggers: { labels: { "agent:spec": "spec_change" } } }, ["run spec_change label:agent:spec none"]],
    ["another label", () => labeled("bug"), {}, ['ignored: label "bug" is not a trigger in the repo config (triggers.labels)']],
    ["a trigger label in another case on GitHub (which ignores case in label names)", () => labeled("Orchestrator:Impl"), {}, ["run impl_change label:orchestrator:impl none"]],
    [
      "the label's own spelling first, when the config has it in two cases",
      () => labeled("Orchestrator:Impl"),
      { triggers: { labels: { "orchestrator:impl": "impl_change", "Orchestrator:Impl": "spec_change" } } },
      ["run spec_change label:Orchestrator:Impl none"],
    ],
    [
      "a trigger label in another case on GitLab (whose label names are case-sensitive)",
      () => ({ ...labeled("Orchestrator:Impl"), source: "gitlab", repo: { ...labeled("x").repo!, forge: "gitlab", installation_id: null } }) as Event,
      {},
      ['ignored: label "Orchestrator:Impl" is not a trigger in the repo config (triggers.labels)'],
    ],
    ["a Jira transition into a mapped status", () => jira("Ready for Agent"), {}, ["run impl_change jira:Ready for Agent none"]],
    ["a Jira transition mapped by the repo config, any case", () => jira("spec ready"), { triggers: { jira_transitions: { "Spec Ready": "spec_change" } } }, ["run spec_change jira:Spec Ready none"]],
    ["a Jira transition into an unmapped status", () => jira("In Progress"), {}, ['ignored: Jira status "In Progress" is not mapped to a run type (JIRA_TRANSITIONS, triggers.jira_transitions)']],
    ["/orchestrator plan", () => comment("/orchestrator plan"), {}, ["run impl_change command:plan write until plan"]],
    ["/orchestrator run with a type", () => comment("/orchestrator run release_prep"), {}, ["run release_prep command:run release_prep write"]],
    ["/orchestrator build with another default", () => comment("/orchestrator build"), { commands: { default_run_type: "spec_change" } }, ["run spec_change command:build write until build"]],
    ["/orchestrator approve", () => comment("/orchestrator approve plan"), {}, ["control approve"]],
    ["/orchestrator status", () => comment("/orchestrator status"), {}, ["status"]],
    ["a typo", () => comment("/orchestrator stauts"), {}, ["reply"]],
    ["a comment without a command", () => comment("LGTM"), {}, ["ignored: comment has no /orchestrator command"]],
    ["commands turned off", () => comment("/orchestrator plan"), { triggers: { commands: false } }, ["ignored: slash commands are off in the repo config (triggers.commands)"]],
    ["a tag push", () => github("push", undefined), {}, ["ignored: tag_push events do not start runs"]],
    ["an approving review", () => review("APPROVED"), {}, ["review approved"]],
    ["a review requesting changes", () => review("CHANGES_REQUESTED"), {}, ["review changes_requested"]],
    ["a review with comments only", () => review("COMMENTED"), {}, ["ignored: a review that commented decides nothing"]],
  ])("%s", (_what, event, config, expected) => {
    expect(summary(run(event(), config))).toEqual(expected);
  });

  it("starts a conformance check when a PR touches spec paths", () => {
    const pr = github("pull_request", "synchronize");
    const config = { triggers: { spec_paths: ["specs/**"] } };
    expect(summary(run(pr, config, ["src/a.ts", "specs/api/v1.md"]))).toEqual(["run conformance_update spec_paths none"]);
    expect(summary(run(pr, config, ["src/a.ts"]))).toEqual(["ignored: pr_synchronized: no configured label and no spec path (triggers.spec_paths) matched"]);
  });

  it("never starts runs on fork PRs automatically; with forks.allow_runs a maintainer may", () => {
    const fork = (mutate?: (p: Record<string, unknown>) => void) =>
      github("pull_request", "labeled", (p) => {
        const pr = p["pull_request"] as { head: { repo: { full_name: string } } };
        pr.head.repo.full_name = "stranger/fork";
        p["label"] = { name: "orchestrator:impl" };
        mutate?.(p);
      });
    expect(summary(run(fork()))).toEqual(["ignored: PR/MR comes from a fork and the repo config does not allow runs on forks (forks.allow_runs)"]);
    expect(summary(run(fork(), { forks: { allow_runs: true } }))).toEqual(["run impl_change label:orchestrator:impl write"]);
    const sync = github("pull_request", "synchronize", (p) => {
      (p["pull_request"] as { head: { repo: { full_name: string } } }).head.repo.full_name = "stranger/fork";
    });
    expect(summary(run(sync, { forks: { allow_runs: true }, triggers: { spec_paths: ["**"] } }, ["a"]))).toEqual([
      "ignored: PR/MR comes from a fork: runs start only when a maintainer asks (label or command)",
    ]);
  });

  it("reads a commented PR's origin first; a fork's, or one it could not read, starts nothing unless forks.allow_runs", () => {
    const unknown = comment("/orchestrator build", true, null);
    expect(unknown.subject.is_fork).toBeNull();
    const commands = parseCommands(unknown.text!, "github");
    const config = RepoConfig.parse({});
    expect(needsPullRequestHead(unknown, config, commands)).toBe(true);
    expect(needsPullRequestHead(comment("/orchestrator build"), config, commands)).toBe(false);
    expect(needsPullRequestHead(unknown, config, parseCommands("/orchestrator status", "github"))).toBe(false);
    expect(needsPullRequestHead(unknown, config, parseCommands("/orchestrator retry", "github"))).toBe(true);
    expect(needsPullRequestHead(comment("/orchestrator build", false), config, commands)).toBe(false);
    // Nothing to find out when runs on forks are allowed, or commands are off.
    expect(needsPullRequestHead(unknown, RepoConfig.parse({ forks: { allow_runs: true } }), commands)).toBe(false);
    expect(needsPullRequestHead(unknown, RepoConfig.parse({ triggers: { commands: false } }), commands)).toBe(false);
    expect(summary(run(unknown))).toEqual(["reply"]);
    expect((run(unknown)[0] as Extract<Decision, { type: "reply" }>).body).toContain("could not tell whether this PR/MR comes from a fork");
    const fork = comment("/orchestrator build", true, { is_fork: true });
    expect((run(fork)[0] as Extract<Decision, { type: "reply" }>).body).toContain("comes from a fork");
    expect(summary(run(fork, { forks: { allow_runs: true } }))).toEqual(["run impl_change command:build write until build"]);
    // A command on an issue is no PR's: nothing to read.
    expect(summary(run(comment("/orchestrator build", false)))).toEqual(["run impl_change command:build write until build"]);
  });

  it("retries a failed run on a fork's PR (or one of unknown origin) only when forks.allow_runs", () => {
    const retry = (head: { is_fork: boolean } | null) => comment("/orchestrator retry", true, head);
    expect(summary(run(retry({ is_fork: false })))).toEqual(["control retry"]);
    expect((run(retry({ is_fork: true }))[0] as Extract<Decision, { type: "reply" }>).body).toContain("comes from a fork");
    expect((run(retry(null))[0] as Extract<Decision, { type: "reply" }>).body).toContain("could not tell");
    expect(summary(run(retry({ is_fork: true }), { forks: { allow_runs: true } }))).toEqual(["control retry"]);
  });

  it("treats a labelled PR/MR of unknown origin as a fork's", () => {
    const pr = github("pull_request", "labeled", (p) => {
      p["label"] = { name: "orchestrator:impl" };
    });
    const unknown = { ...pr, subject: { ...pr.subject, is_fork: null } };
    expect(needsPullRequestHead(unknown, RepoConfig.parse({}), [])).toBe(true);
    expect(summary(run(unknown))).toEqual(["ignored: could not tell whether the PR/MR comes from a fork and the repo config does not allow runs on forks (forks.allow_runs)"]);
  });

  it("derives the same idempotency key for the same trigger, a different one for another", () => {
    const key = (e: Event) => (run(e)[0] as Extract<Decision, { type: "run" }>).request.idempotency_key;
    expect(key(labeled("orchestrator:impl"))).toBe(key(labeled("orchestrator:impl")));
    expect(key(labeled("orchestrator:impl"))).not.toBe(key(labeled("orchestrator:spec")));
    const c1 = comment("/orchestrator plan");
    const c2 = { ...c1, comment: { id: "other", url: null } };
    expect(key(c1)).toBe(key({ ...c1, id: "github:another-delivery" }));
    expect(key(c1)).not.toBe(key(c2));
    const j = jira("Ready for Agent");
    expect(key(j)).toMatch(/^jira:github\.com:acme\/app:TES-41:impl_change:transition:10227$/);
  });

  it("carries the subject, requester, event and Jira issue in the run request", () => {
    const d = run(jira("Ready for Agent"))[0] as Extract<Decision, { type: "run" }>;
    expect(d.request).toMatchObject({
      repo: mapped,
      subject: { key: "TES-41" },
      requested_by: { source: "jira", login: "5c5f880629be9642ba529340" },
      event_id: "jira:d-1",
      jira_issue: "TES-41",
    });
  });
});
