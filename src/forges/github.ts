// GitHub adapter for the intake ports, over the App's Probot Octokit (installation tokens, retries, throttling).
import type { Probot, ProbotOctokit } from "probot";
import { isForkHead } from "../events/github.js";
import type { EventRepo, Permission } from "../events/schema.js";
import type { ForgeIntakePorts } from "../orchestrator/forge-ports.js";

type Octokit = ProbotOctokit;

function ownerRepo(fullPath: string): { owner: string; repo: string } {
  const [owner, repo] = fullPath.split("/");
  if (!owner || !repo) throw new Error(`"${fullPath}" is not a GitHub owner/repo`);
  return { owner, repo };
}

function status(err: unknown): number | undefined {
  return typeof err === "object" && err !== null && "status" in err ? Number((err as { status: unknown }).status) : undefined;
}

/** How long a looked-up installation id is reused; a reinstall (new id) is noticed at the first call that fails for it. */
const INSTALLATION_TTL_MS = 10 * 60_000;
/**
 * A kept id older than this is looked up again before a repository's 404 is believed: the repo may
 * have left that installation (taken out of its repository selection, or transferred), and the id
 * still works for the others. At most one extra lookup a minute for a repo that really has no file.
 */
const RECHECK_AFTER_MS = 60_000;

/** A repository's own 404 (no such file, not a collaborator), as opposed to an installation that is gone. */
function notFound(err: unknown): boolean {
  return status(err) === 404 && !installationGone(err);
}

/**
 * The installation a client was made for is gone: its token cannot be minted (404 from
 * `POST /app/installations/{id}/access_tokens`) or was revoked (401 Bad credentials), as after the
 * App is uninstalled or reinstalled (which gives a new id). Not to be read as "no such file/user".
 */
function installationGone(err: unknown): boolean {
  const s = status(err);
  if (s === 401) return true;
  const url = typeof err === "object" && err !== null && "request" in err ? (err as { request?: { url?: unknown } }).request?.url : undefined;
  return s === 404 && typeof url === "string" && /\/app\/installations\/\d+\/access_tokens$/.test(url);
}

/** An installation id looked up for a repo, and when. */
type Kept = { readonly id: number; readonly at: number };

export function githubIntakePorts(probot: Probot, now: () => number = Date.now): ForgeIntakePorts {
  /** Installation ids of repos known only by name (Jira mappings), so each event does not look them up again. */
  const installations = new Map<string, Kept>();

  /**
   * An installation client, and for a repo known only by name (a Jira mapping, looked up through
   * the App) the kept installation it was made for.
   */
  async function client(repo: EventRepo): Promise<{ octokit: Octokit; kept?: Kept }> {
    if (repo.installation_id) return { octokit: (await probot.auth(repo.installation_id)) as Octokit };
    const key = repo.full_path.toLowerCase();
    let kept = installations.get(key);
    if (!kept || now() - kept.at >= INSTALLATION_TTL_MS) {
      const app = (await probot.auth()) as Octokit;
      try {
        kept = { id: (await app.rest.apps.getRepoInstallation(ownerRepo(repo.full_path))).data.id, at: now() };
      } catch (err) {
        if (status(err) === 404) throw new Error(`the GitHub App is not installed on ${repo.full_path}: install it there, or map the Jira project to a repository it is installed on`, { cause: err });
        throw err;
      }
      installations.set(key, kept);
    }
    return { octokit: (await probot.auth(kept.id)) as Octokit, kept };
  }

  /**
   * Runs `fn` with the repo's client; a repository 404 gives `ifNotFound()` when given. An
   * installation id this adapter looked up and keeps may have gone stale since: when its token
   * fails (the App was reinstalled), or a repository 404 comes through an id kept for a while, the
   * id is looked up again and `fn` runs once more, unless the installation is the same (then the
   * 404 stands).
   */
  async function withClient<T>(repo: EventRepo, fn: (octokit: Octokit) => Promise<T>, ifNotFound?: () => T): Promise<T> {
    const settle = (err: unknown): T => {
      if (ifNotFound && notFound(err)) return ifNotFound();
      throw err;
    };
    const first = await client(repo);
    try {
      return await fn(first.octokit);
    } catch (err) {
      const kept = first.kept;
      if (!kept) return settle(err);
      const gone = installationGone(err);
      if (!gone && !(notFound(err) && now() - kept.at >= RECHECK_AFTER_MS)) return settle(err);
      // Only this entry: a lookup another call made meanwhile stays.
      if (installations.get(repo.full_path.toLowerCase()) === kept) installations.delete(repo.full_path.toLowerCase());
      const again = await client(repo);
      if (!gone && again.kept?.id === kept.id) return settle(err);
      try {
        return await fn(again.octokit);
      } catch (e) {
        return settle(e);
      }
    }
  }

  return {
    readDefaultBranchFile: (repo, fullPath, file) =>
      withClient(
        repo,
        async (octokit) => {
          // No ref: GitHub then reads the repository's default branch, whatever the event's branch is.
          const { data } = await octokit.rest.repos.getContent({ ...ownerRepo(fullPath), path: file, mediaType: { format: "raw" } });
          return typeof data === "string" ? data : Buffer.from(data as unknown as ArrayBuffer).toString("utf8");
        },
        () => null,
      ),

    permission: (repo, login) =>
      withClient(
        repo,
        async (octokit): Promise<Permission> => {
          const { data } = await octokit.rest.repos.getCollaboratorPermissionLevel({ ...ownerRepo(repo.full_path), username: login });
          // `permission` folds maintain into write and triage into read; role_name keeps them apart.
          const role = (data as { role_name?: string }).role_name;
          if (role === "maintain" || role === "triage") return role;
          return (["admin", "write", "read"] as const).find((p) => p === data.permission) ?? "none";
        },
        () => "none",
      ),

    changedFiles: (repo, number) =>
      withClient(
        repo,
        async (octokit) => {
          const files = await octokit.paginate(octokit.rest.pulls.listFiles, { ...ownerRepo(repo.full_path), pull_number: number, per_page: 100 });
          return files.flatMap((f) => (f.previous_filename ? [f.filename, f.previous_filename] : [f.filename]));
        },
      ),

    pullRequestHead: (repo, number) =>
      withClient(
        repo,
        async (octokit) => {
          const { data } = await octokit.rest.pulls.get({ ...ownerRepo(repo.full_path), pull_number: number });
          return {
            is_fork: isForkHead(data.head.repo, data.base.repo),
            head_sha: data.head.sha,
            head_ref: data.head.ref,
            base_ref: data.base.ref,
          };
        },
        () => null,
      ),

    postComment: (repo, subject, body) =>
      withClient(
        repo,
        async (octokit) => {
          if (subject.number !== null) {
            await octokit.rest.issues.createComment({ ...ownerRepo(repo.full_path), issue_number: subject.number, body });
          } else if (subject.type === "commit" && subject.head_sha) {
            await octokit.rest.repos.createCommitComment({ ...ownerRepo(repo.full_path), commit_sha: subject.head_sha, body });
          } else {
            throw new Error(`cannot comment on a ${subject.type} without a number or commit`);
          }
        },
      ),
  };
}
