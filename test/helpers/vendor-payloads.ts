// GitLab and Jira webhook bodies in the shapes their documentation gives, for payloads the shared fixtures do not cover.
type Json = Record<string, unknown>;

/** A self-managed GitLab by default: the host must come from the payload, never be assumed. */
export const GITLAB = "https://gitlab.example.com";

export function gitlabProject(path = "platform/backend/api", host = GITLAB): Json {
  return {
    id: 42,
    name: path.split("/").at(-1),
    description: "",
    web_url: `${host}/${path}`,
    avatar_url: null,
    git_ssh_url: `git@${new URL(host).host}:${path}.git`,
    git_http_url: `${host}/${path}.git`,
    namespace: path.split("/")[0],
    visibility_level: 0,
    path_with_namespace: path,
    default_branch: "main",
    ci_config_path: null,
    homepage: `${host}/${path}`,
    url: `git@${new URL(host).host}:${path}.git`,
    ssh_url: `git@${new URL(host).host}:${path}.git`,
    http_url: `${host}/${path}.git`,
  };
}

export function gitlabUser(username = "jsmith", id = 7): Json {
  return { id, name: "Jane Smith", username, avatar_url: `${GITLAB}/uploads/-/system/user/avatar/${id}/avatar.png`, email: "[REDACTED]" };
}

const label = (id: number, title: string): Json => ({ id, title, color: "#428bca", project_id: 42, template: false, description: null, type: "ProjectLabel", group_id: null });

export function gitlabMergeRequest(action: string, extra: { attributes?: Json; changes?: Json; user?: Json } = {}): Json {
  const project = gitlabProject();
  return {
    object_kind: "merge_request",
    event_type: "merge_request",
    user: extra.user ?? gitlabUser(),
    project,
    repository: { name: project["name"], url: project["url"], description: "", homepage: project["homepage"] },
    object_attributes: {
      id: 901,
      iid: 12,
      target_branch: "main",
      source_branch: "feature/rate-limit",
      source_project_id: 42,
      target_project_id: 42,
      author_id: 7,
      title: "Add rate limiting",
      description: "Limits requests per token.",
      state: action === "merge" ? "merged" : action === "close" ? "closed" : "opened",
      draft: false,
      work_in_progress: false,
      merge_status: "can_be_merged",
      detailed_merge_status: "mergeable",
      url: `${GITLAB}/platform/backend/api/-/merge_requests/12`,
      last_commit: { id: "1f0c4e6b2a7d9e8c3b5a4f6e7d8c9b0a1e2f3d4c", message: "Add limiter", title: "Add limiter", timestamp: "2026-03-02T10:00:00+00:00", url: `${GITLAB}/platform/backend/api/-/commit/1f0c4e6b2a7d9e8c3b5a4f6e7d8c9b0a1e2f3d4c`, author: { name: "Jane Smith", email: "[REDACTED]" } },
      labels: [label(3, "backend")],
      action,
      ...extra.attributes,
    },
    labels: [label(3, "backend")],
    changes: extra.changes ?? {},
    assignees: [],
    reviewers: [],
  };
}

export function gitlabNote(noteableType: "MergeRequest" | "Issue" | "Commit" | "Snippet", action = "create"): Json {
  const project = gitlabProject();
  const base = `${GITLAB}/platform/backend/api`;
  const sha = "cfe32cf61b73a0d5e9f13e774abde7ff789b1660";
  const target: Record<string, [string, Json]> = {
    MergeRequest: [`${base}/-/merge_requests/12#note_5001`, { merge_request: { id: 901, iid: 12, title: "Add rate limiting", state: "opened", source_branch: "feature/rate-limit", target_branch: "main", source_project_id: 42, target_project_id: 42, description: "", labels: [], last_commit: { id: sha, message: "m" } } }],
    Issue: [`${base}/-/issues/31#note_5001`, { issue: { id: 77, iid: 31, title: "Requests are not limited", state: "opened", description: "", labels: [label(4, "bug")] } }],
    Commit: [`${base}/-/commit/${sha}#note_5001`, { commit: { id: sha, message: "Add submodule\n", timestamp: "2026-03-01T10:06:20+02:00", url: `${base}/-/commit/${sha}`, author: { name: "Example User", email: "user@example.com" } } }],
    Snippet: [`${base}/-/snippets/53#note_5001`, { snippet: { id: 53, title: "limits.rb", description: "", content: "puts 1", file_name: "limits.rb", type: "ProjectSnippet", url: `${base}/-/snippets/53` } }],
  };
  const [url, subject] = target[noteableType]!;
  return {
    object_kind: "note",
    event_type: "note",
    user: gitlabUser(),
    project_id: 42,
    project,
    object_attributes: {
      id: 5001,
      note: "/orchestrator build",
      noteable_type: noteableType,
      author_id: 7,
      project_id: 42,
      commit_id: noteableType === "Commit" ? sha : "",
      noteable_id: noteableType === "Commit" ? null : 901,
      system: false,
      action,
      url,
    },
    ...subject,
  };
}

export function gitlabPipeline(status: string, withMergeRequest: boolean): Json {
  return {
    object_kind: "pipeline",
    object_attributes: {
      id: 3107,
      iid: 88,
      name: null,
      ref: withMergeRequest ? "refs/merge-requests/12/head" : "main",
      tag: false,
      sha: "1f0c4e6b2a7d9e8c3b5a4f6e7d8c9b0a1e2f3d4c",
      before_sha: "0000000000000000000000000000000000000000",
      source: withMergeRequest ? "merge_request_event" : "push",
      status,
      detailed_status: status,
      stages: ["test"],
      created_at: "2026-03-02 10:00:00 UTC",
      finished_at: null,
      duration: null,
      variables: [],
      url: `${GITLAB}/platform/backend/api/-/pipelines/3107`,
    },
    merge_request: withMergeRequest
      ? { id: 901, iid: 12, title: "Add rate limiting", source_branch: "feature/rate-limit", source_project_id: 42, target_branch: "main", target_project_id: 42, state: "opened", merge_status: "can_be_merged", detailed_merge_status: "mergeable", url: `${GITLAB}/platform/backend/api/-/merge_requests/12` }
      : null,
    user: gitlabUser(),
    project: gitlabProject(),
    commit: { id: "1f0c4e6b2a7d9e8c3b5a4f6e7d8c9b0a1e2f3d4c", message: "Add limiter\n", timestamp: "2026-03-02T10:00:00+00:00", url: `${GITLAB}/platform/backend/api/-/commit/1f0c4e6b2a7d9e8c3b5a4f6e7d8c9b0a1e2f3d4c`, author: { name: "Jane Smith", email: "[REDACTED]" } },
    builds: [],
  };
}

export function gitlabIssue(action: string, extra: { kind?: "issue" | "work_item"; type?: string; confidential?: boolean; changes?: Json } = {}): Json {
  const kind = extra.kind ?? "issue";
  return {
    object_kind: kind,
    event_type: extra.confidential ? `confidential_${kind}` : kind,
    user: gitlabUser(),
    project: gitlabProject(),
    object_attributes: {
      id: 77,
      iid: 31,
      title: "Requests are not limited",
      description: "Any token can flood the API.",
      confidential: extra.confidential ?? false,
      type: extra.type ?? "Issue",
      url: `${GITLAB}/platform/backend/api/-/issues/31`,
      state: action === "close" ? "closed" : "opened",
      action,
      labels: [label(4, "bug")],
    },
    labels: [label(4, "bug")],
    changes: extra.changes ?? {},
  };
}

const PUSHED = "da1560886d4f094c3e6c9ef40349f7d38b5d27d7";

/** A tag push as the "Tag events" example prints it: user_id and user_name, no user_username. */
export function gitlabTagPush(): Json {
  return {
    object_kind: "tag_push",
    event_name: "tag_push",
    before: "0000000000000000000000000000000000000000",
    after: "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7",
    ref: "refs/tags/v1.4.0",
    ref_protected: true,
    checkout_sha: "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7",
    user_id: 7,
    user_name: "Jane Smith",
    user_avatar: `${GITLAB}/uploads/-/system/user/avatar/7/avatar.png`,
    project_id: 42,
    project: gitlabProject(),
    commits: [],
    total_commits_count: 0,
  };
}

/** A push as a system hook sends it: event_name only, no object_kind, and no id inside project. */
export function gitlabSystemHookPush(): Json {
  const { id: _id, ...project } = gitlabProject();
  return {
    event_name: "push",
    before: "95790bf891e76fee5e1747ab589903a6a1f80f22",
    after: PUSHED,
    ref: "refs/heads/main",
    checkout_sha: PUSHED,
    user_id: 7,
    user_name: "Jane Smith",
    user_email: "[REDACTED]",
    project_id: 42,
    project,
    commits: [{ id: PUSHED, message: "fixed readme", timestamp: "2026-03-02T10:00:00+00:00", url: `${GITLAB}/platform/backend/api/-/commit/${PUSHED}`, author: { name: "Jane Smith", email: "[REDACTED]" } }],
    total_commits_count: 1,
  };
}

/** One body per X-Gitlab-Event the orchestrator does not act on, in the documented shape. */
export function gitlabUnhandled(): [string, Json][] {
  const project = gitlabProject();
  const user = gitlabUser();
  const member = { created_at: "2026-03-01T04:57:22Z", updated_at: "2026-03-01T04:57:22Z", group_name: "platform", group_path: "platform", group_id: 100, user_username: "jsmith", user_name: "Jane Smith", user_email: "[REDACTED]", user_id: 7, group_access: "Developer", group_plan: null, expires_at: null };
  return [
    ["Job Hook", { object_kind: "build", ref: "main", tag: false, sha: PUSHED, build_id: 1977, build_name: "test", build_stage: "test", build_status: "failed", pipeline_id: 3107, project_id: 42, project_name: "platform/backend/api", user: { id: 7, name: "Jane Smith", email: "[REDACTED]" }, commit: { id: 3107, sha: PUSHED, status: "failed" }, project, runner: null, environment: null }],
    ["Deployment Hook", { object_kind: "deployment", status: "success", deployment_id: 15, deployable_id: 796, environment: "staging", project, short_sha: PUSHED.slice(0, 8), user, commit_title: "Add limiter" }],
    ["Release Hook", { id: 1, object_kind: "release", name: "v1.4.0", tag: "v1.4.0", description: "", project, url: `${GITLAB}/platform/backend/api/-/releases/v1.4.0`, action: "create", assets: { count: 0, links: [], sources: [] }, commit: { id: PUSHED, message: "Release", title: "Release" } }],
    ["Wiki Page Hook", { object_kind: "wiki_page", user, project, wiki: { web_url: `${GITLAB}/platform/backend/api/-/wikis/home`, path_with_namespace: "platform/backend/api.wiki", default_branch: "main" }, object_attributes: { title: "Limits", content: "x", format: "markdown", slug: "limits", url: `${GITLAB}/platform/backend/api/-/wikis/limits`, action: "create" } }],
    ["Feature Flag Hook", { object_kind: "feature_flag", project, user, user_url: `${GITLAB}/jsmith`, object_attributes: { id: 6, name: "rate-limit", description: "", active: true } }],
    ["Emoji Hook", { object_kind: "emoji", event_type: "award", user, project_id: 42, project, object_attributes: { user_id: 7, id: 1, name: "thumbsup", awardable_type: "Issue", awardable_id: 77, action: "award", awarded_on_url: `${GITLAB}/platform/backend/api/-/issues/31` }, issue: { id: 77, iid: 31, title: "Requests are not limited", state: "opened", labels: [] } }],
    ["Member Hook", { ...member, event_name: "user_add_to_group" }],
    ["Resource Access Token Hook", { object_kind: "access_token", project, object_attributes: { user_id: 90, created_at: "2026-01-24 16:27:40 UTC", id: 25, name: "ci", expires_at: "2026-01-26" }, event_name: "expiring_access_token" }],
    ["Resource Access Token Hook", { object_kind: "access_token", group: { group_name: "Platform", group_path: "platform", group_id: 35, full_path: "platform" }, object_attributes: { user_id: 90, id: 25, name: "ci", expires_at: "2026-01-26" }, event_name: "expiring_access_token" }],
    ["Milestone Hook", { object_kind: "milestone", event_type: "milestone", project, object_attributes: { id: 61, iid: 10, title: "v1.4", state: "active", project_id: 42 }, action: "create" }],
    ["Vulnerability Hook", { object_kind: "vulnerability", object_attributes: { url: `${GITLAB}/platform/backend/api/-/security/vulnerabilities/1`, title: "REXML DoS", state: "confirmed", project_id: 42, severity: "high", report_type: "dependency_scanning" } }],
    ["Project Hook", { event_name: "project_create", name: "api", path: "api", path_with_namespace: "platform/api", project_id: 22, owners: [{ name: "Jane", email: "[REDACTED]" }], project_visibility: "private" }],
    ["Subgroup Hook", { event_name: "subgroup_create", name: "backend", path: "backend", full_path: "platform/backend", group_id: 10, parent_group_id: 7 }],
    ["System Hook", { event_name: "project_create", name: "api", path: "api", path_with_namespace: "platform/api", project_id: 74, owner_name: "Jane Smith", owners: [], project_visibility: "private" }],
    ["System Hook", { event_name: "user_create", name: "Jane Smith", username: "jsmith", email: "[REDACTED]", user_id: 41 }],
    ["System Hook", { event_name: "repository_update", user_id: 1, user_name: "Jane Smith", project_id: 42, project, changes: [{ before: PUSHED, after: PUSHED, ref: "refs/heads/main" }], refs: ["refs/heads/main"] }],
    ["System Hook", { object_kind: "gitlab_subscription_member_approval", action: "enqueue", object_attributes: { new_access_level: 30, old_access_level: 10, existing_member_id: 123 }, user_id: 42 }],
    ["Issue Hook", gitlabIssue("update")],
    ["Merge Request Hook", gitlabMergeRequest("unapproved")],
    ["Note Hook", gitlabNote("Issue", "update")],
    ["Pipeline Hook", gitlabPipeline("running", true)],
  ];
}

/** Jira Cloud users: accountId and display name only (email and username withheld for privacy). */
export function jiraCloudUser(accountId = "5b10ac8d82e05b22cc7d4ef5", accountType = "atlassian"): Json {
  return { self: `https://acme.atlassian.net/rest/api/2/user?accountId=${accountId}`, accountId, avatarUrls: {}, displayName: "Jane Smith", active: true, timeZone: "Europe/Berlin", accountType };
}

/** Jira Server/Data Center users: name and key, no accountId. */
export function jiraServerUser(base = "https://jira.example.com"): Json {
  return { self: `${base}/rest/api/2/user?username=jsmith`, name: "jsmith", key: "JIRAUSER10100", emailAddress: "jsmith@example.com", avatarUrls: {}, displayName: "Jane Smith", active: true, timeZone: "Europe/Berlin" };
}

export function jiraIssue(base = "https://acme.atlassian.net", key = "PAY-17"): Json {
  return {
    id: "10417",
    self: `${base}/rest/api/2/issue/10417`,
    key,
    fields: {
      summary: "Refunds time out",
      project: { self: `${base}/rest/api/2/project/10000`, id: "10000", key: key.split("-")[0], name: "Payments" },
      status: { self: `${base}/rest/api/2/status/3`, name: "In Progress", id: "3" },
      labels: ["backend"],
      description: "Refunds over 30s are dropped.",
    },
  };
}

export function jiraIssueUpdated(items: Json[], extra: { user?: Json; issue?: Json; type?: string } = {}): Json {
  return {
    timestamp: 1772445600000,
    webhookEvent: "jira:issue_updated",
    issue_event_type_name: extra.type ?? "issue_generic",
    user: extra.user ?? jiraCloudUser(),
    issue: extra.issue ?? jiraIssue(),
    changelog: { id: "10231", items },
  };
}

export const statusItem = (from: string, to: string): Json => ({ field: "status", fieldtype: "jira", fieldId: "status", from: "10000", fromString: from, to: "3", toString: to });

export function jiraComment(event: string, extra: { author?: Json; issue?: Json | null; base?: string } = {}): Json {
  const base = extra.base ?? "https://acme.atlassian.net";
  const author = extra.author ?? jiraCloudUser();
  const body: Json = {
    timestamp: 1772445600000,
    webhookEvent: event,
    comment: { self: `${base}/rest/api/2/issue/10417/comment/10230`, id: "10230", author, body: "/orchestrator build", updateAuthor: author, created: "2026-03-02T10:00:00.000+0000", updated: "2026-03-02T10:00:00.000+0000", jsdPublic: true },
  };
  if (extra.issue !== null) body["issue"] = extra.issue ?? jiraIssue(base);
  return body;
}

/** One body per Jira webhookEvent the orchestrator does not act on. */
export function jiraUnhandled(): Json[] {
  const user = jiraCloudUser();
  return [
    { timestamp: 1772445600000, webhookEvent: "jira:issue_deleted", issue_event_type_name: "issue_deleted", user, issue: jiraIssue() },
    jiraComment("comment_updated"),
    jiraComment("comment_deleted"),
    { timestamp: 1772445600000, webhookEvent: "worklog_created", worklog: { self: "https://acme.atlassian.net/rest/api/2/issue/10417/worklog/10000", author: user, timeSpent: "1h", timeSpentSeconds: 3600, id: "10000", issueId: "10417" } },
    { timestamp: 1772445600000, webhookEvent: "sprint_started", sprint: { id: 5, self: "https://acme.atlassian.net/rest/agile/1.0/sprint/5", state: "active", name: "Sprint 5", originBoardId: 1 } },
    { timestamp: 1772445600000, webhookEvent: "board_updated", board: { id: 1, self: "https://acme.atlassian.net/rest/agile/1.0/board/1", name: "PAY board", type: "scrum" } },
    { timestamp: 1772445600000, webhookEvent: "jira:version_released", version: { self: "https://acme.atlassian.net/rest/api/2/version/10000", id: "10000", name: "1.4", released: true, projectId: 10000 } },
    { timestamp: 1772445600000, webhookEvent: "project_created", project: { self: "https://acme.atlassian.net/rest/api/2/project/10000", id: 10000, key: "PAY", name: "Payments", projectLead: user } },
    jiraIssueUpdated([{ field: "assignee", fieldtype: "jira", fieldId: "assignee", from: null, fromString: null, to: "5b10ac8d82e05b22cc7d4ef5", toString: "Jane Smith" }], { type: "issue_assigned" }),
    { timestamp: 1772445600000, webhookEvent: "jira:issue_updated", issue_event_type_name: "issue_commented", user, issue: jiraIssue(), comment: jiraComment("comment_created")["comment"] },
  ];
}
