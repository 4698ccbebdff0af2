import { createPublicKey } from "node:crypto";
import { importSPKI, jwtVerify } from "jose";
import nock from "nock";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { createGithubApp } from "../../src/handlers/github-app.js";
import { appPrivateKey, examplePayload } from "../helpers/github.js";
import { captureLogs } from "../helpers/logs.js";

const key = appPrivateKey();

function app(env: Record<string, string>, logs = captureLogs()) {
  const config = loadConfig({ APP_ID: "4242", PRIVATE_KEY: key, WEBHOOK_SECRET: "s", ...env });
  return { probot: createGithubApp(config, pino({ level: "info" }, logs.stream)), logs };
}

describe("createGithubApp", () => {
  afterEach(() => nock.cleanAll());

  it("is undefined when the App is not configured", () => {
    expect(createGithubApp(loadConfig({}), pino({ level: "silent" }))).toBeUndefined();
  });

  it("authenticates as the App with a JWT signed by its key, against the GHE host's API", async () => {
    const { probot } = app({ GHE_HOST: "ghe.example.com" });
    let authorization = "";
    const scope = nock("https://ghe.example.com")
      .matchHeader("authorization", (value: string | null) => {
        authorization = value ?? "";
        return /^bearer /i.test(authorization);
      })
      .get("/api/v3/app")
      .reply(200, { id: 4242, slug: "scintilla", name: "Scintilla" });
    const octokit = await probot!.auth();
    const res = await octokit.request("GET /app");
    expect(res.data).toMatchObject({ id: 4242 });
    expect(scope.isDone()).toBe(true);
    const token = authorization.replace(/^bearer /i, "");
    const publicPem = createPublicKey(key).export({ type: "spki", format: "pem" }).toString();
    const { payload } = await jwtVerify(token, await importSPKI(publicPem, "RS256"));
    expect(payload.iss).toBe(4242);
  });

  it("delivers received events to registered handlers and logs through our logger", async () => {
    const { probot, logs } = app({});
    const seen: string[] = [];
    probot!.on("issue_comment.created", async (context) => {
      seen.push(context.id);
      context.log.info("handled");
    });
    const payload = JSON.parse(examplePayload("issue_comment")) as { action: string };
    expect(payload.action).toBe("created");
    // The payload type is GitHub's; the example is one of its documented shapes.
    await probot!.receive({ id: "delivery-77", name: "issue_comment", payload } as Parameters<NonNullable<typeof probot>["receive"]>[0]);
    expect(seen).toEqual(["delivery-77"]);
    const line = logs.lines().find((l) => l["msg"] === "handled");
    // Probot's context logger names the delivery: handler log lines carry its id.
    expect(line).toMatchObject({ component: "github-app", name: "event", id: "delivery-77" });
  });
});
