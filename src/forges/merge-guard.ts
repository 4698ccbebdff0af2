// Refuses every forge call that would merge, before it is sent: the orchestrator proposes, humans merge.
/** Thrown instead of sending a merge request to a forge; reaching it is a bug in our code. */
export class MergeRefusedError extends Error {
  constructor(what: string) {
    super(`refused to call a merge API (${what}): the orchestrator never merges; a human merges after approval`);
    this.name = "MergeRefusedError";
  }
}

/**
 * REST endpoints that merge, on GitHub (merge a PR, merge a branch) and GitLab (accept an MR,
 * merge when the pipeline succeeds), matched on the path so an API prefix or host does not matter.
 */
const mergePaths: readonly RegExp[] = [
  /\/repos\/[^/]+\/[^/]+\/pulls\/[^/]+\/merge\/?$/i,
  /\/repos\/[^/]+\/[^/]+\/merges\/?$/i,
  /\/projects\/[^/]+\/merge_requests\/[^/]+\/merge(_when_[a-z_]+)?\/?$/i,
];

/** GraphQL mutations that merge or arm auto-merge (GitHub and GitLab). */
const mergeMutations = /\b(merge(?:PullRequest|Branch|RequestAccept|RequestSetAutoMerge)|enablePullRequestAutoMerge)\b/;

/** Why the call would merge, or null. `body` is the request body as sent (GraphQL query text included). */
export function mergeCallReason(method: string, url: string, body?: unknown): string | null {
  const path = url.replace(/^[a-z]+:\/\/[^/]+/i, "").split("?")[0] ?? "";
  if (method.toUpperCase() !== "GET" && mergePaths.some((p) => p.test(path))) return `${method.toUpperCase()} ${path}`;
  if (/\/graphql\/?$/i.test(path)) {
    const text = typeof body === "string" ? body : JSON.stringify(body ?? "");
    const m = mergeMutations.exec(text);
    if (m) return `GraphQL ${m[1]}`;
  }
  return null;
}

/** Throws MergeRefusedError when the call would merge. */
export function refuseMergeCall(method: string, url: string, body?: unknown): void {
  const reason = mergeCallReason(method, url, body);
  if (reason) throw new MergeRefusedError(reason);
}
