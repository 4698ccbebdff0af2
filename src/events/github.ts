// GitHub webhooks → events, one rule per event name, written to GitHub's documented webhook payloads.
import { z } from "zod";
import type { DeliveryMeta, EventActor, EventKind, EventRepo, NormalizeResult } from "./schema.js";
import { hostOf, id, lookup, normalizeWith, optStr, rule, str, subject, type EventDraft, type Rule } from "./table.js";

/** Event names the GitHub App subscribes to (app.yml) and this normaliser reads. */
export const githubEventNames = ["issues", "issue_comment", "pull_request", "pull_request_review", "check_suite", "check_run", "push"] as const;

const User = z.object({ login: str, id: id.nullish(), type: optStr });
const Repository = z.object({ id: id, full_name: str, html_url: optStr, default_branch: optStr });
const Installation = z.object({ id: z.number().int() }).nullish();
const Label = z.object({ name: str });
const Labels = z.array(Label).nullish().transform((ls) => (ls ?? []).map((l) => l.name));
const Common = { repository: Repository, sender: User, installation: Installation };

const Issue = z.object({
  number: z.number().int(),
  title: str,
  html_url: optStr,
  state: optStr,
  body: optStr,
  labels: Labels,
  pull_request: z.object({ url: optStr }).nullish(),
});
const PullRequest = z.object({
  number: z.number().int(),
  title: str,
  html_url: optStr,
  state: optStr,
  body: optStr,
  merged: z.boolean().nullish(),
  labels: Labels,
  head: z.object({ sha: str, ref: str, repo: z.object({ full_name: str }).nullish() }),
  base: z.object({ ref: str, repo: z.object({ full_name: str }).nullish() }),
});
const PrRef = z.object({ number: z.number().int(), head: z.object({ ref: str, sha: str }), base: z.object({ ref: str }) });

function repoOf(p: { repository: z.output<typeof Repository>; installation?: z.output<typeof Installation> }): EventRepo {
  return {
    forge: "github",
    host: hostOf(p.repository.html_url) ?? "github.com",
    full_path: p.repository.full_name,
    default_branch: p.repository.default_branch,
    id: p.repository.id,
    installation_id: p.installation?.id ?? null,
  };
}

function actorOf(u: z.output<typeof User>): EventActor {
  return { login: u.login, id: u.id ?? null, name: null, is_bot: u.type === "Bot" || u.login.endsWith("[bot]"), permission: null };
}

/** Whether a PR's head is in another repository than its base; a deleted fork (head repo null) still came from elsewhere. */
export function isForkHead(head: { full_name: string } | null | undefined, base: { full_name: string } | null | undefined): boolean {
  return !head || (base ? head.full_name !== base.full_name : false);
}

function prSubject(pr: z.output<typeof PullRequest>) {
  const isFork = isForkHead(pr.head.repo, pr.base.repo);
  return subject({
    type: "pull_request",
    number: pr.number,
    title: pr.title,
    url: pr.html_url,
    state: pr.state,
    head_sha: pr.head.sha,
    head_ref: pr.head.ref,
    base_ref: pr.base.ref,
    is_fork: isFork,
    labels: pr.labels,
  });
}

const notActedOn = (event: string, action: string) => `GitHub ${event}.${action} is not an event the orchestrator acts on`;

const issueKinds: Record<string, EventKind> = { opened: "issue_opened", reopened: "issue_reopened", labeled: "issue_labeled", closed: "issue_closed" };
const prKinds: Record<string, EventKind> = {
  opened: "pr_opened",
  reopened: "pr_reopened",
  ready_for_review: "pr_ready_for_review",
  labeled: "pr_labeled",
  synchronize: "pr_synchronized",
  closed: "pr_closed",
};

const table: Record<string, Rule> = {
  issues: rule(z.object({ action: str, issue: Issue, label: Label.nullish(), ...Common }), (p): EventDraft | string => {
    const kind = lookup(issueKinds, p.action);
    if (!kind) return notActedOn("issues", p.action);
    return {
      kind,
      vendor_event: `issues.${p.action}`,
      repo: repoOf(p),
      actor: actorOf(p.sender),
      subject: subject({ type: "issue", number: p.issue.number, title: p.issue.title, url: p.issue.html_url, state: p.issue.state, labels: p.issue.labels }),
      label: p.label?.name ?? null,
      text: p.issue.body,
    };
  }),
  issue_comment: rule(
    z.object({ action: str, issue: Issue, comment: z.object({ id: id, body: optStr, html_url: optStr }), ...Common }),
    (p) => {
      if (p.action !== "created") return notActedOn("issue_comment", p.action);
      return {
        kind: "comment_created",
        vendor_event: "issue_comment.created",
        repo: repoOf(p),
        actor: actorOf(p.sender),
        // A PR conversation comment arrives as an issue comment whose issue has a pull_request link.
        subject: subject({
          type: p.issue.pull_request ? "pull_request" : "issue",
          number: p.issue.number,
          title: p.issue.title,
          url: p.issue.html_url,
          state: p.issue.state,
          labels: p.issue.labels,
        }),
        comment: { id: p.comment.id, url: p.comment.html_url },
        text: p.comment.body,
      };
    },
  ),
  pull_request: rule(z.object({ action: str, pull_request: PullRequest, label: Label.nullish(), ...Common }), (p) => {
    const kind = lookup(prKinds, p.action);
    if (!kind) return notActedOn("pull_request", p.action);
    return {
      kind,
      vendor_event: `pull_request.${p.action}`,
      repo: repoOf(p),
      actor: actorOf(p.sender),
      subject: prSubject(p.pull_request),
      label: p.label?.name ?? null,
      text: p.pull_request.body,
    };
  }),
  pull_request_review: rule(
    z.object({
      action: str,
      review: z.object({ id: id, body: optStr, state: str, html_url: optStr }),
      pull_request: PullRequest,
      ...Common,
    }),
    (p) => {
      if (p.action !== "submitted") return notActedOn("pull_request_review", p.action);
      return {
        kind: "review_submitted",
        vendor_event: "pull_request_review.submitted",
        repo: repoOf(p),
        actor: actorOf(p.sender),
        subject: prSubject(p.pull_request),
        comment: { id: p.review.id, url: p.review.html_url },
        text: p.review.body,
        review_state: p.review.state.toLowerCase(),
      };
    },
  ),
  check_suite: rule(
    z.object({
      action: str,
      check_suite: z.object({
        id: id,
        head_sha: str,
        head_branch: optStr,
        status: optStr,
        conclusion: optStr,
        url: optStr,
        pull_requests: z.array(PrRef).nullish(),
      }),
      ...Common,
    }),
    (p) => {
      if (p.action !== "completed") return notActedOn("check_suite", p.action);
      const s = p.check_suite;
      return checks(p, "check_suite.completed", null, s.head_sha, s.head_branch, s.pull_requests?.[0], {
        status: s.status ?? "completed",
        conclusion: s.conclusion,
        url: s.url,
      });
    },
  ),
  check_run: rule(
    z.object({
      action: str,
      check_run: z.object({
        id: id,
        name: optStr,
        head_sha: str,
        status: optStr,
        conclusion: optStr,
        html_url: optStr,
        check_suite: z.object({ head_branch: optStr }).nullish(),
        pull_requests: z.array(PrRef).nullish(),
      }),
      ...Common,
    }),
    (p) => {
      if (p.action !== "completed") return notActedOn("check_run", p.action);
      const r = p.check_run;
      return checks(p, "check_run.completed", r.name, r.head_sha, r.check_suite?.head_branch ?? null, r.pull_requests?.[0], {
        status: r.status ?? "completed",
        conclusion: r.conclusion,
        url: r.html_url,
      });
    },
  ),
  push: rule(
    z.object({
      ref: str,
      before: optStr,
      after: str,
      deleted: z.boolean().nullish(),
      compare: optStr,
      commits: z.array(z.object({ added: z.array(str).nullish(), removed: z.array(str).nullish(), modified: z.array(str).nullish() })).nullish(),
      ...Common,
    }),
    (p) => {
      if (p.deleted) return `GitHub push deleted ${p.ref}; nothing to act on`;
      const isTag = p.ref.startsWith("refs/tags/");
      const name = p.ref.replace(/^refs\/(heads|tags)\//, "");
      return {
        kind: isTag ? "tag_push" : "push",
        vendor_event: "push",
        repo: repoOf(p),
        actor: actorOf(p.sender),
        subject: subject({ type: isTag ? "tag" : "branch", title: name, url: p.compare, head_sha: p.after, head_ref: name }),
        changed_paths: changedPaths(p.commits ?? []),
      };
    },
  ),
};

function checks(
  p: { repository: z.output<typeof Repository>; sender: z.output<typeof User>; installation?: z.output<typeof Installation> },
  vendorEvent: string,
  name: string | null,
  headSha: string,
  headBranch: string | null,
  pr: z.output<typeof PrRef> | undefined,
  ci: { status: string; conclusion: string | null; url: string | null },
): EventDraft {
  return {
    kind: "checks_completed",
    vendor_event: vendorEvent,
    repo: repoOf(p),
    actor: actorOf(p.sender),
    subject: pr
      ? subject({ type: "pull_request", number: pr.number, head_sha: pr.head.sha, head_ref: pr.head.ref, base_ref: pr.base.ref })
      : subject({ type: "commit", head_sha: headSha, head_ref: headBranch }),
    ci: { name, ...ci },
  };
}

/** Every path the commits of a push added, changed or removed, once each, in order. */
export function changedPaths(commits: readonly { added?: string[] | null; removed?: string[] | null; modified?: string[] | null }[]): string[] {
  const out = new Set<string>();
  for (const c of commits) for (const p of [...(c.added ?? []), ...(c.modified ?? []), ...(c.removed ?? [])]) out.add(p);
  return [...out];
}

export function normalizeGithub(name: string, payload: unknown, meta: DeliveryMeta): NormalizeResult {
  return normalizeWith(table, "github", name, payload, meta);
}
