import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { finished, spawnCli } from "../helpers/cli.js";
import { fixtures } from "../helpers/fixtures.js";
import { examplePayload } from "../helpers/github.js";

const dir = mkdtempSync(path.join(tmpdir(), "cli-ingest-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, body: string): string {
  const f = path.join(dir, name);
  writeFileSync(f, body);
  return f;
}

async function run(args: string[], env: Record<string, string> = {}, stdin?: string) {
  const child = spawnCli(args, env);
  const done = finished(child);
  if (stdin !== undefined) child.stdin.end(stdin);
  else child.stdin.end();
  return done;
}

describe("orchestrator normalize", () => {
  it("prints the normalised event of a payload file", async () => {
    const f = fixtures("gitlab").find((x) => x.file === "merge_request.open.json")!;
    const r = await run(["normalize", "--source", "gitlab", "--event", "Merge Request Hook", "--file", file("mr.json", f.body), "--delivery-id", "d-9"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ id: "gitlab:d-9", kind: "pr_opened", subject: { number: 1 } });
  });

  it("reads standard input and takes Jira's event name from the body", async () => {
    const r = await run(["normalize", "--source", "jira"], {}, fixtures("jira").find((x) => x.file === "comment_created.json")!.body);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ kind: "comment_created", subject: { key: "TES-41" } });
  });

  it("prints {ignored} for an event it does not act on", async () => {
    const r = await run(["normalize", "--source", "github", "--event", "star"], {}, "{}");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ ignored: 'github event "star" is not one the orchestrator acts on' });
  });

  it.each([
    [["--source", "github", "--event", "issues"], "{}", /issues payload: action/],
    [["--source", "github", "--event", "issues"], "not json", /standard input is not JSON/],
    [["--source", "gitlab"], "{}", /--event is required for gitlab/],
    [["--source", "bitbucket", "--event", "x"], "{}", /--source must be one of github, gitlab, jira/],
  ])("exits 2 saying what is wrong: %j", async (args, stdin, message) => {
    const r = await run(["normalize", ...args], {}, stdin);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});

describe("orchestrator receive", () => {
  it("records a payload once per delivery id, answering what it would answer over HTTP", async () => {
    const env = { DATA_DIR: path.join(dir, "data"), LOG_LEVEL: "silent" };
    const payload = file("push.json", examplePayload("push"));
    const first = await run(["receive", "--source", "github", "--event", "push", "--file", payload, "--id", "r-1"], env);
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ delivery_id: "r-1", status: "ignored", reason: "tag_push events do not start runs", processing: { status: "ignored" } });
    const second = await run(["receive", "--source", "github", "--event", "push", "--file", payload, "--id", "r-1"], env);
    expect(JSON.parse(second.stdout)).toMatchObject({ status: "duplicate" });
  });

  it("processes a trigger through the worker, reporting why it could not finish", async () => {
    const env = { DATA_DIR: path.join(dir, "data3"), LOG_LEVEL: "silent" };
    const p = JSON.parse(examplePayload("issues"));
    p.action = "labeled";
    p.label = { name: "orchestrator:impl" };
    const r = await run(["receive", "--source", "github", "--event", "issues", "--file", file("labeled.json", JSON.stringify(p)), "--delivery-id", "r-2"], env);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      status: "accepted",
      processing: { status: "queued", attempts: 1, last_error: expect.stringContaining("GitHub API is not configured; set APP_ID") },
    });
  });

  it("exits 2 on a malformed payload", async () => {
    const r = await run(["receive", "--source", "gitlab", "--event", "Push Hook"], { DATA_DIR: path.join(dir, "data2"), LOG_LEVEL: "silent" }, '{"object_kind":"push"}');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Push Hook payload: ref/);
  });
});
