import http from "node:http";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { finished, spawnCli } from "../helpers/cli.js";
import { fixtures } from "../helpers/fixtures.js";

const gitlabPush = fixtures("gitlab").find((f) => f.file === "push.json")!.body;

type Serving = { url: string; child: ReturnType<typeof spawnCli>; exit: ReturnType<typeof finished> };

/** Starts `orchestrator serve` on a free port and resolves once it logs the URL it listens on. */
async function serve(env: Record<string, string> = {}): Promise<Serving> {
  const dataDir = mkdtempSync(path.join(tmpdir(), "orchestrator-serve-"));
  const child = spawnCli(["serve"], { HOST: "127.0.0.1", PORT: "0", DATA_DIR: dataDir, ...env });
  const exit = finished(child);
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (c: string) => {
      out += c;
      const m = /"url":"(http:\/\/[^"]+)".*"msg":"orchestrator listening"/.exec(out);
      if (m) resolve(m[1]!);
    });
    void exit.then((r) => reject(new Error(`serve exited ${r.code} before listening: ${r.stderr}${r.stdout}`)));
  });
  return { url, child, exit };
}

/** Starts a GitLab delivery and sends only the first half of its body. */
function halfSentDelivery(url: string, body: string) {
  const req = http.request(`${url}/api/gitlab/webhooks`, {
    method: "POST",
    headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), "x-gitlab-token": "tok", "x-gitlab-event": "Push Hook", "idempotency-key": "in-flight-1" },
  });
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.on("response", (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (c: string) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on("error", reject);
  });
  req.write(body.slice(0, body.length / 2));
  return { response, finish: () => req.end(body.slice(body.length / 2)) };
}

describe("orchestrator serve", () => {
  it("answers /healthz, then on SIGTERM finishes the in-flight delivery, refuses new connections and exits 0", async () => {
    const s = await serve({ GITLAB_WEBHOOK_TOKEN: "tok" });
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);

    const inFlight = halfSentDelivery(s.url, gitlabPush);
    // Let the request line and half the body reach the server before it is told to stop.
    await new Promise((r) => setTimeout(r, 200));
    s.child.kill("SIGTERM");
    await new Promise((r) => s.child.stdout.once("data", r));
    // A new connection (not one kept alive from before) is not served: refused once the listener
    // is closed, reset or answered 503 while fastify is still closing it.
    const refused = await new Promise<string>((resolve) => {
      http.get(`${s.url}/healthz`, { agent: false }, (res) => resolve(`answered ${res.statusCode}`)).on("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    });
    expect(refused).toMatch(/^(ECONNREFUSED|ECONNRESET|answered 503)$/);
    inFlight.finish();

    const res = await inFlight.response;
    expect(res.status).toBe(202);
    expect(JSON.parse(res.body)).toMatchObject({ delivery_id: "in-flight-1", status: expect.stringMatching(/^(accepted|ignored)$/) });
    const r = await s.exit;
    expect(r.code).toBe(0);
    const msgs = r.stdout.trim().split("\n").map((l) => (JSON.parse(l) as { msg: string }).msg);
    expect(msgs).toContain("shutting down");
    expect(msgs.at(-1)).toBe("stopped");
  });

  it("stops on SIGINT too", async () => {
    const s = await serve();
    s.child.kill("SIGINT");
    const r = await s.exit;
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('"msg":"stopped"');
  });

  it("gives up on in-flight work after SHUTDOWN_TIMEOUT_MS and exits 1", async () => {
    const s = await serve({ GITLAB_WEBHOOK_TOKEN: "tok", SHUTDOWN_TIMEOUT_MS: "300" });
    const stuck = halfSentDelivery(s.url, gitlabPush);
    stuck.response.catch(() => undefined);
    await new Promise((r) => setTimeout(r, 200));
    s.child.kill("SIGTERM");
    const r = await s.exit;
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("shutdown timed out");
  });
});
