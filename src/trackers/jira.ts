// Jira Cloud adapter: posts replies on issues through the REST API with an account's email and API token.
import type { TrackerCommentPoster } from "../orchestrator/forge-ports.js";

export interface JiraApiOptions {
  readonly baseUrl: string;
  readonly email: string;
  readonly apiToken: string;
  readonly fetch?: typeof fetch;
}

export function jiraCommentPoster(opts: JiraApiOptions): TrackerCommentPoster {
  const doFetch = opts.fetch ?? fetch;
  const auth = `Basic ${Buffer.from(`${opts.email}:${opts.apiToken}`).toString("base64")}`;
  return {
    async postIssueComment(key, body) {
      // API v2 takes the body as wiki markup text; v3 would need Atlassian Document Format.
      const url = `${opts.baseUrl.replace(/\/+$/, "")}/rest/api/2/issue/${encodeURIComponent(key)}/comment`;
      const res = await doFetch(url, {
        method: "POST",
        headers: { authorization: auth, accept: "application/json", "content-type": "application/json" },
        body: JSON.stringify({ body }),
      });
      if (!res.ok) {
        const hint = res.status === 401 || res.status === 403 ? "; check JIRA_EMAIL and JIRA_API_TOKEN" : "";
        throw new Error(`Jira API POST ${url}: ${res.status} ${(await res.text().catch(() => "")).slice(0, 200)}${hint}`);
      }
    },
  };
}
