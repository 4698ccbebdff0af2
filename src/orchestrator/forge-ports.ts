// The narrow forge reads and writes intake needs; one adapter per forge implements them (src/forges).
import type { EventRepo, EventSubject, Permission } from "../events/schema.js";

/** Reads a file from a repository's DEFAULT branch; null when the file (or repo) does not exist. */
export interface RepoFileReader {
  /** `repo` is the repository the event came from (for credentials); `fullPath` may name another repo of the same owner. */
  readDefaultBranchFile(repo: EventRepo, fullPath: string, file: string): Promise<string | null>;
}

/** The actor's permission on the repository (GitHub collaborator permission; GitLab access level mapped). */
export interface PermissionReader {
  permission(repo: EventRepo, login: string, userId: string | null): Promise<Permission>;
}

/** Paths a PR/MR changes, for spec-path triggers. */
export interface ChangedFilesReader {
  changedFiles(repo: EventRepo, number: number): Promise<string[]>;
}

/** Where a PR/MR comes from, read from the forge when the event does not say (a comment on a GitHub PR). */
export interface PullRequestHead {
  /** Null when the forge's answer does not say (the fork rule treats it as a fork's). */
  readonly is_fork: boolean | null;
  readonly head_sha: string | null;
  readonly head_ref: string | null;
  readonly base_ref: string | null;
}

/** A PR/MR's head and whether it comes from a fork; null when the forge has no such PR/MR. */
export interface PullRequestReader {
  pullRequestHead(repo: EventRepo, number: number): Promise<PullRequestHead | null>;
}

/** Posts a reply on the issue, PR/MR or commit; never anything else. */
export interface CommentPoster {
  postComment(repo: EventRepo, subject: EventSubject, body: string): Promise<void>;
}

/** Everything intake needs from one forge. */
export interface ForgeIntakePorts extends RepoFileReader, PermissionReader, ChangedFilesReader, PullRequestReader, CommentPoster {}

/** Posts a reply on a Jira issue. */
export interface TrackerCommentPoster {
  postIssueComment(issueKey: string, body: string): Promise<void>;
}

/** Permissions that may start runs and decide checklist items. */
export const writeLevels: ReadonlySet<Permission> = new Set(["admin", "maintain", "write"]);

/** Stands in for a forge that is not configured: every call fails saying which settings turn it on. */
export function unconfiguredForge(forge: string, settings: string): ForgeIntakePorts {
  const fail = async (): Promise<never> => {
    throw new Error(`${forge} API is not configured; set ${settings}`);
  };
  return { readDefaultBranchFile: fail, permission: fail, changedFiles: fail, pullRequestHead: fail, postComment: fail };
}
