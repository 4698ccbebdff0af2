// GitLab adapter for the intake ports, over the REST API v4 with a bot's access token.
import type { EventRepo, Permission } from "../events/schema.js";
import type { ForgeIntakePorts } from "../orchestrator/forge-ports.js";
import { mrIsFork } from "../events/gitlab.js";
import { refuseMergeCall } from "./merge-guard.js";

export interface GitlabApiOptions {
  readonly baseUrl: string;
  readonly token: string;
  readonly fetch?: typeof fetch;
}

/** GitLab access levels (docs: "Roles and permissions") as forge permissions; Developer (30) is the first that writes. */
export function accessLevelPermission(level: number): Permission {
  if (level >= 50) return "admin";
  if (level >= 40) return "maintain";
  if (level >= 30) return "write";
  if (level >= 20) return "triage";
  if (level >= 5) return "read";
  return "none";
}

class GitlabApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function gitlabIntakePorts(opts: GitlabApiOptions): ForgeIntakePorts {
  const doFetch = opts.fetch ?? fetch;
  const root = `${opts.baseUrl.replace(/\/+$/, "")}/api/v4`;

  async function api(method: "GET" | "POST", path: string, body?: unknown): Promise<Response> {
    refuseMergeCall(method, path, body);
    const res = await doFetch(`${root}${path}`, {
      method,
      headers: { "PRIVATE-TOKEN": opts.token, accept: "application/json", ...(body ? { "content-type": "application/json" } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    if (!res.ok) {
      const text = await res.text().catch(() => "");
      const hint = res.status === 401 || res.status === 403 ? "; check GITLAB_TOKEN and its scopes (api)" : "";
      throw new GitlabApiError(res.status, `GitLab API ${method} ${path}: ${res.status} ${text.slice(0, 200)}${hint}`);
    }
    return res;
  }
  const notFoundAs = async <T>(p: Promise<T>, fallback: T): Promise<T> =>
    p.catch((err: unknown) => {
      if (err instanceof GitlabApiError && err.status === 404) return fallback;
      throw err;
    });

  /** The numeric id when we have it, else the URL-encoded path, which the API accepts as `:id`. */
  const project = (repo: EventRepo, fullPath = repo.full_path) =>
    fullPath === repo.full_path && repo.id ? encodeURIComponent(repo.id) : encodeURIComponent(fullPath);

  return {
    async readDefaultBranchFile(repo, fullPath, file) {
      let branch = fullPath === repo.full_path ? repo.default_branch : null;
      if (!branch) {
        const p = await notFoundAs(api("GET", `/projects/${project(repo, fullPath)}`).then((r) => r.json() as Promise<{ default_branch?: string }>), null);
        if (!p?.default_branch) return null;
        branch = p.default_branch;
      }
      const path = `/projects/${project(repo, fullPath)}/repository/files/${encodeURIComponent(file)}/raw?ref=${encodeURIComponent(branch)}`;
      return notFoundAs(api("GET", path).then((r) => r.text()), null);
    },

    async permission(repo, login, userId) {
      let id = userId;
      if (!id) {
        const users = (await (await api("GET", `/users?username=${encodeURIComponent(login)}`)).json()) as { id: number }[];
        if (!users[0]) return "none";
        id = String(users[0].id);
      }
      // members/all includes members inherited from parent groups.
      const member = await notFoundAs(
        api("GET", `/projects/${project(repo)}/members/all/${encodeURIComponent(id)}`).then((r) => r.json() as Promise<{ access_level?: number }>),
        null,
      );
      return member?.access_level ? accessLevelPermission(member.access_level) : "none";
    },

    async changedFiles(repo, iid) {
      const out: string[] = [];
      for (let page = 1; page <= 50; page++) {
        const res = await api("GET", `/projects/${project(repo)}/merge_requests/${iid}/diffs?per_page=100&page=${page}`);
        const diffs = (await res.json()) as { new_path: string; old_path: string }[];
        for (const d of diffs) out.push(...(d.old_path !== d.new_path ? [d.new_path, d.old_path] : [d.new_path]));
        const next = res.headers.get("x-next-page");
        if (!next) break;
      }
      return out;
    },

    async pullRequestHead(repo, iid) {
      type Mr = { source_project_id?: number; target_project_id?: number; sha?: string | null; source_branch?: string; target_branch?: string };
      const mr = await notFoundAs(api("GET", `/projects/${project(repo)}/merge_requests/${iid}`).then((r) => r.json() as Promise<Mr>), null);
      if (!mr) return null;
      // Without both project ids nobody can tell (null): the fork rule treats that as a fork's, and says so.
      return { is_fork: mrIsFork(mr), head_sha: mr.sha ?? null, head_ref: mr.source_branch ?? null, base_ref: mr.target_branch ?? null };
    },

    async postComment(repo, subject, body) {
      const p = project(repo);
      if (subject.type === "merge_request" && subject.number !== null) await api("POST", `/projects/${p}/merge_requests/${subject.number}/notes`, { body });
      else if (subject.type === "issue" && subject.number !== null) await api("POST", `/projects/${p}/issues/${subject.number}/notes`, { body });
      else if (subject.type === "commit" && subject.head_sha) await api("POST", `/projects/${p}/repository/commits/${subject.head_sha}/comments`, { note: body });
      else throw new Error(`cannot comment on a GitLab ${subject.type} without a number or commit`);
    },
  };
}
