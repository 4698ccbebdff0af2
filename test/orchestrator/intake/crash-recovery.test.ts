import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { pino } from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config.js";
import { createApp } from "../../../src/main.js";
import { spawnCli } from "../../helpers/cli.js";
import { fixtures } from "../../helpers/fixtures.js";

/** A GitLab API on 127.0.0.1 that can be told to hang (the crash window) or answer like GitLab. */
async function fakeGitlab() {
  let mode: "hang" | "answer" = "hang";
  const seen: string[] = [];
  const hung: ServerResponse[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen.push(`${req.method} ${req.url}`);
    if (mode === "hang") return void hung.push(res);
    res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ message: "404 File Not Found" }));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    answer: () => (mode = "answer"),
    close: () => {
      for (const r of hung) r.destroy();
      server.closeAllConnections();
      server.close();
    },
  };
}

async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("a crash after the 202", () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), "intake-crash-"));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it("loses nothing: after kill -9 and a restart the delivery is processed", async () => {
    const gitlab = await fakeGitlab();
    const env = {
      DATA_DIR: dataDir,
      HOST: "127.0.0.1",
      PORT: "0",
      LOG_LEVEL: "info",
      GITLAB_WEBHOOK_TOKEN: "t",
      GITLAB_TOKEN: "glpat",
      GITLAB_URL: gitlab.url,
      INTAKE_LEASE_MS: "500",
    };
    const child = spawnCli(["serve"], env);
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (out += c));
    await until("the child to listen", () => /"msg":"orchestrator listening"/.test(out));
    const url = /"url":"([^"]+)"/.exec(out.split("\n").find((l) => l.includes("orchestrator listening"))!)![1]!;

    const p = JSON.parse(fixtures("gitlab").find((f) => f.file === "issue.open.json")!.body);
    p.labels = [{ id: 1, title: "orchestrator:impl" }];
    const res = await fetch(`${url}/api/gitlab/webhooks`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-gitlab-token": "t", "x-gitlab-event": "Issue Hook", "idempotency-key": "crash-1" },
      body: JSON.stringify(p),
    });
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ status: "accepted" });
    // The worker has claimed it and is waiting on GitLab when the process dies.
    await until("the worker to call GitLab", () => gitlab.seen.length > 0);
    child.kill("SIGKILL");
    await once(child, "exit");

    gitlab.answer();
    const config = loadConfig({ ...env, LOG_LEVEL: "silent" });
    const app = await createApp(config, pino({ level: "silent" }));
    try {
      await until("the delivery to be processed after restart", () => app.intake.queue.get("gitlab", "crash-1")?.status === "done");
      const row = app.intake.queue.get("gitlab", "crash-1")!;
      expect(row.outcome).toMatch(/^run request rreq_\w+ created/);
      // Claimed before the crash (and again by the dying process if its lease lapsed first), then once more after the restart.
      expect(row.attempts).toBeGreaterThanOrEqual(2);
      expect(app.intake.runRequests.all().map((r) => r.request.event_id)).toEqual(["gitlab:crash-1"]);
    } finally {
      await app.close();
      gitlab.close();
    }
  });
});
