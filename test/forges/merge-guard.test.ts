import nock from "nock";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { mergeCallReason, MergeRefusedError } from "../../src/forges/merge-guard.js";
import { createGithubApp } from "../../src/handlers/github-app.js";
import { appPrivateKey } from "../helpers/github.js";

describe("merge guard", () => {
  it.each([
    ["PUT", "/repos/{owner}/{repo}/pulls/{pull_number}/merge", undefined, "PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge"],
    ["PUT", "https://ghe.example.com/api/v3/repos/acme/api/pulls/12/merge", undefined, "PUT /api/v3/repos/acme/api/pulls/12/merge"],
    ["POST", "/repos/acme/api/merges", { base: "main", head: "feature" }, "POST /repos/acme/api/merges"],
    ["PUT", "/projects/42/merge_requests/7/merge", undefined, "PUT /projects/42/merge_requests/7/merge"],
    ["PUT", "/projects/grp%2Fproj/merge_requests/7/merge?squash=true", undefined, "PUT /projects/grp%2Fproj/merge_requests/7/merge"],
    ["POST", "/projects/42/merge_requests/7/merge_when_pipeline_succeeds", undefined, "POST /projects/42/merge_requests/7/merge_when_pipeline_succeeds"],
    ["POST", "/graphql", "mutation { mergePullRequest(input: {pullRequestId: \"x\"}) { clientMutationId } }", "GraphQL mergePullRequest"],
    ["POST", "/graphql", { query: "mutation($id: ID!) { enablePullRequestAutoMerge(input: {pullRequestId: $id}) { clientMutationId } }" }, "GraphQL enablePullRequestAutoMerge"],
    ["POST", "/api/graphql", { query: "mutation { mergeRequestAccept(input: {projectPath: \"g/p\", iid: \"7\"}) { errors } }" }, "GraphQL mergeRequestAccept"],
  ])("refuses %s %s", (method, url, body, reason) => {
    expect(mergeCallReason(method, url, body)).toBe(reason);
  });

  it.each([
    ["GET", "/repos/acme/api/pulls/12/merge"], // "is it merged?" only reads
    ["POST", "/repos/acme/api/pulls"],
    ["POST", "/repos/acme/api/issues/12/comments"],
    ["GET", "/projects/42/merge_requests/7"],
    ["POST", "/projects/42/merge_requests/7/notes"],
    ["POST", "/graphql", { query: "query { repository(owner: \"a\", name: \"b\") { pullRequest(number: 1) { merged mergeable } } }" }],
  ])("lets %s %s through", (method, url, body?: unknown) => {
    expect(mergeCallReason(method, url, body)).toBeNull();
  });

  describe("on the GitHub App's Octokit", () => {
    beforeAll(() => nock.disableNetConnect());
    afterAll(() => {
      nock.cleanAll();
      nock.enableNetConnect();
    });

    const config = loadConfig({ APP_ID: "1", PRIVATE_KEY: appPrivateKey(), WEBHOOK_SECRET: "s" });
    const probot = createGithubApp(config, pino({ level: "silent" }))!;

    it("refuses pulls.merge before any request is sent", async () => {
      const octokit = await probot.auth();
      const calls: string[] = [];
      nock("https://api.github.com")
        .put(/.*/)
        .reply(200, (uri: string) => (calls.push(uri), {}));
      await expect(octokit.rest.pulls.merge({ owner: "acme", repo: "api", pull_number: 12 })).rejects.toBeInstanceOf(MergeRefusedError);
      expect(calls).toEqual([]);
    });

    it("refuses a merging GraphQL mutation", async () => {
      const octokit = await probot.auth();
      await expect(octokit.graphql("mutation($id: ID!) { mergePullRequest(input: {pullRequestId: $id}) { clientMutationId } }", { id: "PR_1" })).rejects.toBeInstanceOf(MergeRefusedError);
    });
  });
});
