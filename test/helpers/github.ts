// Real GitHub webhook material for tests and benchmarks: example payloads, a fresh App key, signed requests.
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import { sign } from "@octokit/webhooks-methods";
import nock from "nock";

interface WebhookDefinition {
  name: string;
  examples: unknown[];
}

const require = createRequire(import.meta.url);
const definitions = require("@octokit/webhooks-examples") as WebhookDefinition[];

/** The first example payload GitHub's docs give for an event, as the exact bytes to send. */
/**
 * Octokit options for tests: no retries and no write throttling (Probot's one comment every few
 * seconds), as Probot recommends. A function, not an object: Probot passes its own throttle
 * options, which would replace ours.
 */
export const quietOctokit = (options: Record<string, unknown>) => ({
  ...options,
  retry: { enabled: false },
  throttle: { ...(options["throttle"] as object | undefined), enabled: false },
});

export function examplePayload(event: string): string {
  const def = definitions.find((d) => d.name === event);
  if (!def || def.examples.length === 0) throw new Error(`@octokit/webhooks-examples has no example for ${event}`);
  return JSON.stringify(def.examples[0]);
}

/** An RSA private key in PEM, like the one GitHub generates for an App. */
export function appPrivateKey(): string {
  return generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs1", format: "pem" }).toString();
}

/** The headers GitHub sends with a delivery, signed with `secret` over `body`. */
export async function githubHeaders(event: string, body: string, secret: string, id: string = randomUUID()): Promise<Record<string, string>> {
  return {
    "content-type": "application/json",
    "user-agent": "GitHub-Hookshot/test",
    "x-github-event": event,
    "x-github-delivery": id,
    "x-github-hook-id": "1",
    "x-github-hook-installation-target-type": "integration",
    "x-github-hook-installation-target-id": "1",
    "x-hub-signature-256": await sign(secret, body),
  };
}

const API = "https://api.github.com";
const REPO = "/repos/Codertocat/Hello-World";

/**
 * The example issue_comment delivery from installation 77: `text` by `login` as comment `id`, on
 * issue `on` of Codertocat/Hello-World, or on its PR #1 (`on: "pr"`).
 */
export function issueComment(on: number | "pr", text: string, login: string, id: number): string {
  const p = JSON.parse(examplePayload("issue_comment"));
  p.installation = { id: 77, node_id: "x" };
  if (on === "pr") p.issue.pull_request = { url: `${API}${REPO}/pulls/1` };
  else {
    p.issue.number = on;
    delete p.issue.pull_request;
  }
  p.comment.body = text;
  p.comment.id = id;
  p.sender.login = login;
  return JSON.stringify(p);
}

/**
 * GitHub's REST API over nock for Codertocat/Hello-World (the repository of the documented example
 * payloads) through installation 77: each call sets up one expected request, in GitHub's shapes.
 */
export function codertocatApi() {
  return {
    token: () =>
      nock(API).post("/app/installations/77/access_tokens").reply(201, { token: "ghs_test", expires_at: "2099-01-01T00:00:00Z", permissions: { issues: "write" }, repository_selection: "all" }),
    /** No `.github/orchestrator.yml` in the repository nor in the owner's `.github` repository. */
    noConfig: () =>
      nock(API)
        .get(/^\/repos\/Codertocat\/(Hello-World|\.github)\/contents\/\.github(%2F|\/)orchestrator\.yml/)
        .times(2)
        .reply(404, { message: "Not Found", documentation_url: "https://docs.github.com/rest/repos/contents#get-repository-content" }),
    permission: (login: string, permission: "admin" | "maintain" | "write" | "read") =>
      nock(API).get(`${REPO}/collaborators/${login}/permission`).reply(200, { permission: permission === "maintain" ? "write" : permission, role_name: permission, user: { login } }),
    /** "Get a pull request" for #1, its head in `headRepo` (the base repository itself unless a fork). */
    pull: (headRepo = "Codertocat/Hello-World") =>
      nock(API)
        .get(`${REPO}/pulls/1`)
        .reply(200, {
          number: 1,
          state: "open",
          head: { ref: "feature", sha: "ec26c3e57ca3a959ca5aad62de7213c562f8c821", repo: { full_name: headRepo } },
          base: { ref: "main", sha: "f95f852bd8fca8fcc58a9a2d6c842781e32a215e", repo: { full_name: "Codertocat/Hello-World" } },
        }),
    /** The reply the bot posts on the issue; resolves to its body. */
    reply: (issue: number, match: RegExp) => {
      let body = "";
      const scope = nock(API)
        .post(`${REPO}/issues/${issue}/comments`, (b: { body: string }) => {
          if (!match.test(b.body)) return false;
          body = b.body;
          return true;
        })
        .reply(201, { id: 1, body: "…" });
      return { scope, body: () => body };
    },
  };
}
