// `orchestrator receive` behaves like the server: a trigger's run is recorded and queued, and `runs list` shows it.
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { finished, spawnCli } from "../helpers/cli.js";
import { fixtures } from "../helpers/fixtures.js";

const dir = mkdtempSync(path.join(tmpdir(), "cli-receive-runs-"));
let gitlab: ReturnType<typeof createServer>;
let gitlabUrl = "";
const seen: string[] = [];

beforeAll(async () => {
  // A GitLab API on 127.0.0.1 with no repo config file (the defaults apply).
  gitlab = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ message: "404 File Not Found" }));
  });
  gitlab.listen(0, "127.0.0.1");
  await once(gitlab, "listening");
  gitlabUrl = `http://127.0.0.1:${(gitlab.address() as AddressInfo).port}`;
});
afterAll(() => {
  gitlab.close();
  rmSync(dir, { recursive: true, force: true });
});

async function run(args: string[], env: Record<string, string>) {
  const child = spawnCli(args, env);
  child.stdin.end();
  return finished(child);
}

describe("orchestrator receive", () => {
  it("records the triggered run in the ledger, queued for the server's engine", async () => {
    const p = JSON.parse(fixtures("gitlab").find((f) => f.file === "issue.open.json")!.body);
    p.labels = [{ id: 1, title: "orchestrator:impl" }];
    const payload = path.join(dir, "issue.json");
    writeFileSync(payload, JSON.stringify(p));
    const env = { DATA_DIR: path.join(dir, "data"), LOG_LEVEL: "silent", GITLAB_TOKEN: "glpat-test", GITLAB_URL: gitlabUrl };
    const r = await run(["receive", "--source", "gitlab", "--event", "Issue Hook", "--file", payload, "--id", "cli-run-1"], env);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: "accepted", processing: { status: "done", outcome: expect.stringMatching(/^run request rreq_\w+ created \(impl_change/) } });
    expect(seen.some((s) => s.includes("orchestrator.yml"))).toBe(true);

    const list = await run(["runs", "list", "--json", "--subject", "gitlab:gitlabhq/gitlab-test#issue/23"], env);
    expect(list.code, list.stderr).toBe(0);
    const page = JSON.parse(list.stdout) as { runs: { run_id: string; status: string; run_type: string }[] };
    expect(page.runs).toEqual([expect.objectContaining({ run_type: "impl_change", status: "queued" })]);

    // The same delivery again is a duplicate: still one run.
    const again = await run(["receive", "--source", "gitlab", "--event", "Issue Hook", "--file", payload, "--id", "cli-run-1"], env);
    expect(JSON.parse(again.stdout)).toMatchObject({ status: "duplicate" });
    const verify = await run(["ledger", "verify"], env);
    expect(verify.stdout).toMatch(/^ledger intact: \d+ entries in 1 runs verified/);
  });
});
