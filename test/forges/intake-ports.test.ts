import nock from "nock";
import { Probot, ProbotOctokit } from "probot";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { EventRepo } from "../../src/events/schema.js";
import { githubIntakePorts } from "../../src/forges/github.js";
import { accessLevelPermission, gitlabIntakePorts } from "../../src/forges/gitlab.js";
import { loadRepoConfig } from "../../src/orchestrator/repo-config/loader.js";
import { jiraCommentPoster } from "../../src/trackers/jira.js";
import { appPrivateKey, quietOctokit } from "../helpers/github.js";

const GH = "https://api.github.com";
const GL = "https://gitlab.example.com";

/** A Probot that answers once: no retries or throttling to wait out. Installation tokens are cached per Probot. */
const testProbot = () =>
  new Probot({
    appId: 1,
    privateKey: appPrivateKey(),
    secret: "s",
    Octokit: ProbotOctokit.defaults(quietOctokit),
    logLevel: "fatal",
  });

beforeAll(() => nock.disableNetConnect());
afterEach(() => {
  vi.useRealTimers();
  expect(nock.pendingMocks()).toEqual([]);
  nock.cleanAll();
});
afterAll(() => nock.enableNetConnect());

describe("GitHub intake ports (Probot Octokit)", () => {
  const probot = testProbot();
  const ports = githubIntakePorts(probot);
  const repo: EventRepo = { forge: "github", host: "github.com", full_path: "acme/app", default_branch: "main", id: "1", installation_id: 5 };
  const token = () => nock(GH).post("/app/installations/5/access_tokens").reply(201, { token: "ghs_1", expires_at: "2099-01-01T00:00:00Z" });

  it("reads the config from the default branch (no ref), following _extends into another repo", async () => {
    token();
    const own = nock(GH)
      .get(/^\/repos\/acme\/app\/contents\/\.github(%2F|\/)orchestrator\.yml$/)
      .matchHeader("accept", /raw/)
      .reply(200, "_extends: policies\nsensitivity: public\n");
    nock(GH).get(/^\/repos\/acme\/policies\/contents\/\.github(%2F|\/)orchestrator\.yml$/).reply(200, "forks:\n  allow_runs: true\nsensitivity: restricted\n");
    const r = await loadRepoConfig(ports, repo);
    expect(own.isDone()).toBe(true);
    expect(r).toMatchObject({ ok: true, config: { sensitivity: "public", forks: { allow_runs: true } } });
  });

  it("maps collaborator permission, keeping maintain and triage apart; a non-collaborator has none", async () => {
    nock(GH).get("/repos/acme/app/collaborators/m/permission").reply(200, { permission: "write", role_name: "maintain", user: { login: "m" } });
    nock(GH).get("/repos/acme/app/collaborators/t/permission").reply(200, { permission: "read", role_name: "triage", user: { login: "t" } });
    nock(GH).get("/repos/acme/app/collaborators/a/permission").reply(200, { permission: "admin", role_name: "admin", user: { login: "a" } });
    nock(GH).get("/repos/acme/app/collaborators/x/permission").reply(404, { message: "Not Found" });
    expect(await ports.permission(repo, "m", null)).toBe("maintain");
    expect(await ports.permission(repo, "t", null)).toBe("triage");
    expect(await ports.permission(repo, "a", null)).toBe("admin");
    expect(await ports.permission(repo, "x", null)).toBe("none");
  });

  it("lists a PR's changed files across pages, renames on both paths", async () => {
    const page1 = Array.from({ length: 100 }, (_, i) => ({ filename: `src/f${i}.ts`, status: "modified" }));
    nock(GH)
      .get("/repos/acme/app/pulls/7/files")
      .query({ per_page: 100 })
      .reply(200, page1, { link: `<${GH}/repositories/1/pulls/7/files?per_page=100&page=2>; rel="next"` });
    nock(GH).get("/repositories/1/pulls/7/files").query({ per_page: 100, page: 2 }).reply(200, [{ filename: "specs/new.md", previous_filename: "specs/old.md", status: "renamed" }]);
    const files = await ports.changedFiles(repo, 7);
    expect(files).toHaveLength(102);
    expect(files.slice(-2)).toEqual(["specs/new.md", "specs/old.md"]);
  });

  it("comments on issues/PRs and commits", async () => {
    const issue = nock(GH).post("/repos/acme/app/issues/3/comments", { body: "hi" }).reply(201, { id: 1 });
    const commit = nock(GH).post("/repos/acme/app/commits/abc/comments", { body: "hi" }).reply(201, { id: 2 });
    const s = { type: "issue" as const, number: 3, key: null, title: null, url: null, state: null, head_sha: null, head_ref: null, base_ref: null, is_fork: null, labels: [] };
    await ports.postComment(repo, s, "hi");
    await ports.postComment(repo, { ...s, type: "commit", number: null, head_sha: "abc" }, "hi");
    expect(issue.isDone() && commit.isDone()).toBe(true);
  });

  it("reads a PR's head and whether it comes from a fork (a deleted fork included); none for a missing PR", async () => {
    const pr = (n: number, head: { full_name: string } | null) =>
      nock(GH)
        .get(`/repos/acme/app/pulls/${n}`)
        .reply(200, { number: n, head: { ref: "fix", sha: "a".repeat(40), repo: head }, base: { ref: "main", sha: "b".repeat(40), repo: { full_name: "acme/app" } } });
    pr(1, { full_name: "acme/app" });
    pr(2, { full_name: "stranger/app" });
    pr(3, null);
    nock(GH).get("/repos/acme/app/pulls/4").reply(404, { message: "Not Found" });
    expect(await ports.pullRequestHead(repo, 1)).toEqual({ is_fork: false, head_sha: "a".repeat(40), head_ref: "fix", base_ref: "main" });
    expect(await ports.pullRequestHead(repo, 2)).toMatchObject({ is_fork: true });
    expect(await ports.pullRequestHead(repo, 3)).toMatchObject({ is_fork: true });
    expect(await ports.pullRequestHead(repo, 4)).toBeNull();
  });

  it("finds the installation of a repo known only by name (a Jira mapping) once, until it expires", async () => {
    let clock = 0;
    const timed = githubIntakePorts(probot, () => clock);
    const named: EventRepo = { ...repo, full_path: "acme/other", installation_id: null, id: null, default_branch: null };
    const lookups = nock(GH).get("/repos/acme/other/installation").times(2).reply(200, { id: 9, account: { login: "acme" } });
    nock(GH).post("/app/installations/9/access_tokens").reply(201, { token: "ghs_9", expires_at: "2099-01-01T00:00:00Z" });
    nock(GH).get(/^\/repos\/acme\/other\/contents\/\.github(%2F|\/)orchestrator\.yml$/).reply(200, "enabled: false\n");
    nock(GH).get("/repos/acme/other/collaborators/m/permission").times(2).reply(200, { permission: "write", role_name: "write", user: { login: "m" } });
    const r = await loadRepoConfig(timed, named);
    expect(r).toMatchObject({ ok: true, config: { enabled: false } });
    expect(await timed.permission(named, "m", null)).toBe("write");
    expect(lookups.pendingMocks()).toHaveLength(1);
    clock += 10 * 60_000 + 1;
    expect(await timed.permission(named, "m", null)).toBe("write");
    expect(lookups.isDone()).toBe(true);
  });

  describe("a repo known only by name whose App was reinstalled (new installation id)", () => {
    // Each case its own Probot: installation tokens are cached per Probot, by installation id.
    const fresh = () =>
      githubIntakePorts(
        testProbot(),
      );
    const named: EventRepo = { ...repo, full_path: "acme/moved", installation_id: null, id: null, default_branch: null };
    const configPath = /^\/repos\/acme\/moved\/contents\/\.github(%2F|\/)orchestrator\.yml$/;

    it("a revoked token (401) drops the kept id: the next lookup finds the new one and the call succeeds", async () => {
      const ports = fresh();
      nock(GH).get("/repos/acme/moved/installation").reply(200, { id: 21 }).get("/repos/acme/moved/installation").reply(200, { id: 22 });
      nock(GH).post("/app/installations/21/access_tokens").reply(201, { token: "ghs_21", expires_at: "2099-01-01T00:00:00Z" });
      nock(GH).post("/app/installations/22/access_tokens").reply(201, { token: "ghs_22", expires_at: "2099-01-01T00:00:00Z" });
      nock(GH).get("/repos/acme/moved/collaborators/m/permission").matchHeader("authorization", "token ghs_21").reply(200, { permission: "write", role_name: "write" });
      expect(await ports.permission(named, "m", null)).toBe("write");
      // Uninstalled and installed again: the kept id's token is revoked. The App's auth retries a
      // 401 on a token younger than 5 s (GitHub's replication delay), so the clock is moved past that.
      vi.useFakeTimers({ toFake: ["Date"] });
      vi.setSystemTime(Date.now() + 5_100);
      nock(GH).get("/repos/acme/moved/collaborators/m/permission").matchHeader("authorization", "token ghs_21").reply(401, { message: "Bad credentials" });
      nock(GH).get("/repos/acme/moved/collaborators/m/permission").matchHeader("authorization", "token ghs_22").reply(200, { permission: "admin", role_name: "admin" });
      expect(await ports.permission(named, "m", null)).toBe("admin");
    });

    it("an installation whose token cannot be minted (404) is not read as a missing config file", async () => {
      const ports = fresh();
      nock(GH).get("/repos/acme/moved/installation").reply(200, { id: 31 }).get("/repos/acme/moved/installation").reply(200, { id: 32 });
      nock(GH).post("/app/installations/31/access_tokens").reply(404, { message: "Not Found" });
      nock(GH).post("/app/installations/32/access_tokens").reply(201, { token: "ghs_32", expires_at: "2099-01-01T00:00:00Z" });
      nock(GH).get(configPath).matchHeader("authorization", "token ghs_32").reply(200, "enabled: false\n");
      expect(await ports.readDefaultBranchFile(named, "acme/moved", ".github/orchestrator.yml")).toBe("enabled: false\n");
    });

    it("retries once: a second failure is the caller's, with GitHub's status", async () => {
      const ports = fresh();
      nock(GH).get("/repos/acme/moved/installation").times(2).reply(200, { id: 41 });
      nock(GH).post("/app/installations/41/access_tokens").times(2).reply(404, { message: "Not Found" });
      await expect(ports.permission(named, "m", null)).rejects.toMatchObject({ status: 404 });
    });

    describe("a repository 404 through an id kept for over a minute (the repo may have left that installation)", () => {
      const timed = (clock: { t: number }) =>
        githubIntakePorts(
          testProbot(),
          () => clock.t,
        );
      const keep = (ports: ReturnType<typeof githubIntakePorts>, id: number) => {
        nock(GH).get("/repos/acme/moved/installation").reply(200, { id });
        nock(GH).post(`/app/installations/${id}/access_tokens`).reply(201, { token: `ghs_${id}`, expires_at: "2099-01-01T00:00:00Z" });
        nock(GH).get("/repos/acme/moved/collaborators/m/permission").reply(200, { permission: "write", role_name: "write" });
        return ports.permission(named, "m", null);
      };
      /** Ports that looked up installation `id` `ms` ago (and used it once). */
      const aged = async (id: number, ms: number) => {
        const clock = { t: 0 };
        const ports = timed(clock);
        expect(await keep(ports, id)).toBe("write");
        clock.t = ms;
        return ports;
      };

      it("is believed within the minute: no second lookup", async () => {
        const ports = await aged(51, 59_000);
        nock(GH).get(configPath).reply(404, { message: "Not Found" });
        expect(await ports.readDefaultBranchFile(named, "acme/moved", ".github/orchestrator.yml")).toBeNull();
      });

      it("after it, stands when the repo is still on the same installation (one lookup more)", async () => {
        const ports = await aged(52, 61_000);
        nock(GH).get(configPath).reply(404, { message: "Not Found" });
        const lookup = nock(GH).get("/repos/acme/moved/installation").reply(200, { id: 52 });
        expect(await ports.readDefaultBranchFile(named, "acme/moved", ".github/orchestrator.yml")).toBeNull();
        expect(lookup.isDone()).toBe(true);
        // Looked up afresh: the next 404 within the minute is believed as it is.
        nock(GH).get("/repos/acme/moved/collaborators/x/permission").reply(404, { message: "Not Found" });
        expect(await ports.permission(named, "x", null)).toBe("none");
      });

      it("after it, is asked again through the repo's new installation", async () => {
        const ports = await aged(53, 61_000);
        nock(GH).get(configPath).matchHeader("authorization", "token ghs_53").reply(404, { message: "Not Found" });
        nock(GH).get("/repos/acme/moved/installation").reply(200, { id: 54 });
        nock(GH).post("/app/installations/54/access_tokens").reply(201, { token: "ghs_54", expires_at: "2099-01-01T00:00:00Z" });
        nock(GH).get(configPath).matchHeader("authorization", "token ghs_54").reply(200, "enabled: false\n");
        expect(await ports.readDefaultBranchFile(named, "acme/moved", ".github/orchestrator.yml")).toBe("enabled: false\n");
      });

      it("after it, says so when the App is no longer installed on the repo, instead of reading no config", async () => {
        const ports = await aged(55, 61_000);
        nock(GH).get(configPath).reply(404, { message: "Not Found" });
        nock(GH).get("/repos/acme/moved/installation").reply(404, { message: "Not Found" });
        await expect(ports.readDefaultBranchFile(named, "acme/moved", ".github/orchestrator.yml")).rejects.toThrow("the GitHub App is not installed on acme/moved");
      });
    });

    it("says the App is not installed when GitHub finds no installation for the repo", async () => {
      const ports = fresh();
      nock(GH).get("/repos/acme/moved/installation").reply(404, { message: "Not Found" });
      await expect(ports.readDefaultBranchFile(named, "acme/moved", ".github/orchestrator.yml")).rejects.toThrow(
        "the GitHub App is not installed on acme/moved: install it there, or map the Jira project to a repository it is installed on",
      );
    });
  });
});

describe("GitLab intake ports (REST v4)", () => {
  const ports = gitlabIntakePorts({ baseUrl: GL, token: "glpat-x" });
  const repo: EventRepo = { forge: "gitlab", host: "gitlab.example.com", full_path: "grp/sub/app", default_branch: "main", id: "42", installation_id: null };

  it("reads an MR's head and whether it comes from a fork; none for a missing MR", async () => {
    const mr = (iid: number, source: number) =>
      nock(GL).get(`/api/v4/projects/42/merge_requests/${iid}`).reply(200, { iid, source_project_id: source, target_project_id: 42, sha: "c".repeat(40), source_branch: "fix", target_branch: "main" });
    mr(1, 42);
    mr(2, 77);
    nock(GL).get("/api/v4/projects/42/merge_requests/3").reply(404, { message: "404 Not found" });
    nock(GL).get("/api/v4/projects/42/merge_requests/4").reply(200, { iid: 4, sha: "d".repeat(40), source_branch: "x", target_branch: "main" });
    expect(await ports.pullRequestHead(repo, 1)).toEqual({ is_fork: false, head_sha: "c".repeat(40), head_ref: "fix", base_ref: "main" });
    expect(await ports.pullRequestHead(repo, 2)).toMatchObject({ is_fork: true });
    expect(await ports.pullRequestHead(repo, 3)).toBeNull();
    // No project ids, no telling: unknown, which the fork rule counts as a fork's (and says it could not tell).
    expect(await ports.pullRequestHead(repo, 4)).toMatchObject({ is_fork: null });
  });

  it("reads the config file from the default branch with the bot's token", async () => {
    nock(GL, { reqheaders: { "private-token": "glpat-x" } })
      .get("/api/v4/projects/42/repository/files/.gitlab%2Forchestrator.yml/raw")
      .query({ ref: "main" })
      .reply(200, "_extends: shared\n");
    nock(GL).get("/api/v4/projects/grp%2Fsub%2Fshared").reply(200, { id: 43, path_with_namespace: "grp/sub/shared", default_branch: "trunk" });
    nock(GL).get("/api/v4/projects/grp%2Fsub%2Fshared/repository/files/.gitlab%2Forchestrator.yml/raw").query({ ref: "trunk" }).reply(200, "sensitivity: public\n");
    expect(await loadRepoConfig(ports, repo)).toMatchObject({ ok: true, config: { sensitivity: "public" } });
  });

  it("maps access levels: Developer (30) and up may write", async () => {
    expect([50, 40, 30, 20, 10, 5, 0].map(accessLevelPermission)).toEqual(["admin", "maintain", "write", "triage", "read", "read", "none"]);
    nock(GL).get("/api/v4/projects/42/members/all/7").reply(200, { id: 7, username: "dev", access_level: 30 });
    nock(GL).get("/api/v4/users").query({ username: "ghost" }).reply(200, [{ id: 8, username: "ghost" }]);
    nock(GL).get("/api/v4/projects/42/members/all/8").reply(404, { message: "404 Not found" });
    expect(await ports.permission(repo, "dev", "7")).toBe("write");
    expect(await ports.permission(repo, "ghost", null)).toBe("none");
  });

  it("lists an MR's changed paths across pages", async () => {
    nock(GL).get("/api/v4/projects/42/merge_requests/3/diffs").query({ per_page: 100, page: 1 }).reply(200, [{ old_path: "a", new_path: "a" }], { "x-next-page": "2" });
    nock(GL).get("/api/v4/projects/42/merge_requests/3/diffs").query({ per_page: 100, page: 2 }).reply(200, [{ old_path: "specs/x.md", new_path: "specs/y.md" }], { "x-next-page": "" });
    expect(await ports.changedFiles(repo, 3)).toEqual(["a", "specs/y.md", "specs/x.md"]);
  });

  it("posts notes on MRs, issues and commits, and says which setting to fix on 401", async () => {
    nock(GL).post("/api/v4/projects/42/merge_requests/3/notes", { body: "hi" }).reply(201, { id: 1 });
    nock(GL).post("/api/v4/projects/42/issues/4/notes", { body: "hi" }).reply(201, { id: 2 });
    nock(GL).post("/api/v4/projects/42/repository/commits/abc/comments", { note: "hi" }).reply(201, { note: "hi" });
    const s = { type: "merge_request" as const, number: 3, key: null, title: null, url: null, state: null, head_sha: null, head_ref: null, base_ref: null, is_fork: null, labels: [] };
    await ports.postComment(repo, s, "hi");
    await ports.postComment(repo, { ...s, type: "issue", number: 4 }, "hi");
    await ports.postComment(repo, { ...s, type: "commit", number: null, head_sha: "abc" }, "hi");
    nock(GL).post("/api/v4/projects/42/issues/4/notes").reply(401, { message: "401 Unauthorized" });
    await expect(ports.postComment(repo, { ...s, type: "issue", number: 4 }, "hi")).rejects.toThrow(/401.*check GITLAB_TOKEN/);
  });
});

describe("Jira comment poster", () => {
  it("posts a comment with basic auth", async () => {
    const api = nock("https://acme.atlassian.net", { reqheaders: { authorization: `Basic ${Buffer.from("bot@acme.test:tok").toString("base64")}` } })
      .post("/rest/api/2/issue/TES-41/comment", { body: "hello" })
      .reply(201, { id: "10020", body: "hello" });
    await jiraCommentPoster({ baseUrl: "https://acme.atlassian.net", email: "bot@acme.test", apiToken: "tok" }).postIssueComment("TES-41", "hello");
    expect(api.isDone()).toBe(true);
  });
});
