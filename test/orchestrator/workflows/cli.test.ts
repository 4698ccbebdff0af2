// `orchestrator workflows …` as a real child process, and the engine as the app wires it.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import aslValidator from "asl-validator";
import { describe, expect, it } from "vitest";
import { pino } from "pino";
import { loadConfig } from "../../../src/config.js";
import { buildEngine } from "../../../src/orchestrator/engine/wire.js";
import { sqliteLedger } from "../../../src/orchestrator/ledger/sqlite.js";
import { openSqlite } from "../../../src/store/sqlite.js";
import { startApp } from "../../helpers/app.js";
import { runCli } from "../../helpers/cli.js";
import { request, waitFor } from "../engine/harness.js";

describe("orchestrator workflows", () => {
  it("list names every workflow with its run type, version and steps", async () => {
    const r = await runCli(["workflows", "list"]);
    expect(r.code, r.stderr).toBe(0);
    for (const name of ["SpecChangeRun", "ImplementationRun", "ConformanceUpdateRun", "ReleasePrepRun", "WatcherInvestigationRun"]) expect(r.stdout).toContain(name);
    expect(r.stdout).toMatch(/ImplementationRun {2}impl_change {2}v1 {2}sha256:[0-9a-f]{12}\n {2}plan\* → build\* → verify\* → publish → await_approvals → report/);
    expect(r.stdout).toContain("(* runs in a container next to the run's workspace: an agent, or the gates)");
  });

  it("asl prints valid ASL, with placeholders when the AWS settings are not set", async () => {
    const r = await runCli(["workflows", "asl", "implementationrun"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("placeholders");
    const asl = JSON.parse(r.stdout) as { States: Record<string, { Parameters?: { FunctionName?: string } }> };
    expect(aslValidator(asl as never).isValid).toBe(true);
    expect(asl.States.publish!.Parameters!.FunctionName).toBe("${ActivityLambdaArn}");
  });

  it("asl uses the configured AWS resources when they are all set", async () => {
    const r = await runCli(["workflows", "asl", "SpecChangeRun"], {
      SFN_ROLE_ARN: "arn:aws:iam::123456789012:role/sfn",
      ECS_CLUSTER_ARN: "agents",
      ECS_TASK_DEFINITION_ARN: "arn:aws:ecs:eu-west-1:123456789012:task-definition/agent:3",
      ECS_SUBNETS: "subnet-1,subnet-2",
      ACTIVITY_LAMBDA_ARN: "arn:aws:lambda:eu-west-1:123456789012:function:activities",
      TASK_INPUT_PREFIX: "s3://runs-bucket/tasks",
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain('"arn:aws:ecs:eu-west-1:123456789012:task-definition/agent:3"');
    expect(r.stdout).toContain('"subnet-2"');
  });

  it("an unknown workflow or missing deploy settings exit 2 naming what to fix", async () => {
    const bad = await runCli(["workflows", "asl", "DeployRun"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/no workflow named "DeployRun"; one of SpecChangeRun, ImplementationRun/);
    const deploy = await runCli(["workflows", "deploy", "--dry-run"]);
    expect(deploy.code).toBe(2);
    expect(deploy.stderr).toMatch(/SFN_ROLE_ARN.*\n.*ECS_CLUSTER_ARN[\s\S]*TASK_INPUT_PREFIX[\s\S]*AWS_REGION/);
  });
});

/** Step Functions, ECS and Lambda on one 127.0.0.1 port, answering the reads `workflows deploy` makes; records what was asked. */
async function fakeAws() {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const target = String(req.headers["x-amz-target"] ?? `${req.method} ${req.url}`);
      seen.push(target);
      const json = (body: unknown, type = "application/x-amz-json-1.0") => (res.setHeader("content-type", type), res.end(JSON.stringify(body)));
      if (target.endsWith(".ListStateMachines"))
        return json({ stateMachines: [{ name: "scintilla-SpecChangeRun", stateMachineArn: "arn:aws:states:eu-west-1:123456789012:stateMachine:scintilla-SpecChangeRun", type: "STANDARD", creationDate: 1 }] });
      if (target.endsWith(".DescribeTaskDefinition"))
        return json({ taskDefinition: { status: "ACTIVE", requiresCompatibilities: ["FARGATE"], containerDefinitions: [{ name: "agent" }] } }, "application/x-amz-json-1.1");
      if (target.includes("/functions/")) return json({ FunctionName: "activities", Timeout: 900 }, "application/json");
      res.statusCode = 400;
      json({ __type: "UnknownOperation", message: target });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { seen, endpoint, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe("orchestrator workflows deploy --dry-run", () => {
  const settings = (endpoint: string, over: Record<string, string> = {}) => ({
    SFN_ROLE_ARN: "arn:aws:iam::123456789012:role/sfn",
    ECS_CLUSTER_ARN: "agents",
    ECS_TASK_DEFINITION_ARN: "arn:aws:ecs:eu-west-1:123456789012:task-definition/agent:7",
    ECS_SUBNETS: "subnet-1",
    ECS_SECURITY_GROUPS: "sg-1",
    ACTIVITY_LAMBDA_ARN: "arn:aws:lambda:eu-west-1:123456789012:function:activities",
    TASK_INPUT_PREFIX: "s3://bucket/tasks",
    AWS_REGION: "eu-west-1",
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    SFN_ENDPOINT: endpoint,
    ECS_ENDPOINT: endpoint,
    LAMBDA_ENDPOINT: endpoint,
    ...over,
  });

  it("makes its preflight reads at the configured endpoints and prints the update with its tag", async () => {
    const aws = await fakeAws();
    try {
      const r = await runCli(["workflows", "deploy", "--dry-run"], settings(aws.endpoint));
      expect(r.code, r.stderr).toBe(0);
      expect(aws.seen).toEqual([
        "AmazonEC2ContainerServiceV20141113.DescribeTaskDefinition",
        "GET /2015-03-31/functions/arn%3Aaws%3Alambda%3Aeu-west-1%3A123456789012%3Afunction%3Aactivities/configuration",
        "AWSStepFunctions.ListStateMachines",
      ]);
      expect(r.stdout).toContain("would update arn:aws:states:eu-west-1:123456789012:stateMachine:scintilla-SpecChangeRun:");
      expect(r.stdout).toContain('would tag arn:aws:states:eu-west-1:123456789012:stateMachine:scintilla-SpecChangeRun: [{"key":"orchestrator:workflow-version","value":"1"}]');
      expect(r.stdout).toContain("would create scintilla-ImplementationRun:");
    } finally {
      await aws.close();
    }
  });

  it("refuses to deploy agent tasks into the VPC's default security group", async () => {
    const aws = await fakeAws();
    try {
      const r = await runCli(["workflows", "deploy", "--dry-run"], settings(aws.endpoint, { ECS_SECURITY_GROUPS: "" }));
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/deploy failed: ECS_SECURITY_GROUPS is empty/);
      expect(aws.seen).toEqual([]);
    } finally {
      await aws.close();
    }
  });
});

describe("the engine in the app", () => {
  it("is embedded by default, shares the app's ledger, and fails a run at the first activity not built yet", async () => {
    const app = await startApp();
    try {
      expect(app.app.engine.backend).toBe("embedded");
      const { runId } = await app.app.engine.start(request("impl_change"));
      const failed = await waitFor(async () => (await app.app.audit.ledger.entries(runId)).find((e) => e.type === "step_failed"), "the plan step to fail");
      expect(failed.payload).toMatchObject({ step: "plan", error: "Activity.Unavailable", message: "not available yet: the planner agent (agent runtime)" });
    } finally {
      await app.close();
    }
  });

  it("refuses an engine whose ledger cannot carry its transitions", () => {
    const db = openSqlite(":memory:", { synchronous: "NORMAL" });
    const ledger = sqliteLedger({ db });
    const logger = pino({ level: "silent" });
    try {
      const dynamo = loadConfig({ LEDGER_BACKEND: "dynamodb", AWS_REGION: "eu-west-1" });
      expect(() => buildEngine({ config: dynamo, ledger, transactionalLedger: undefined, db, logger })).toThrow(/ENGINE=embedded needs LEDGER_BACKEND=sqlite/);
      const sfn = loadConfig({ ENGINE: "step-functions", AWS_REGION: "eu-west-1" });
      expect(() => buildEngine({ config: sfn, ledger, transactionalLedger: ledger, db, logger })).toThrow(/ENGINE=step-functions needs LEDGER_BACKEND=dynamodb/);
      const missing = loadConfig({ ENGINE: "step-functions", LEDGER_BACKEND: "dynamodb", AWS_REGION: "eu-west-1" });
      expect(() => buildEngine({ config: missing, ledger, transactionalLedger: undefined, db, logger })).toThrow(/SFN_ROLE_ARN[\s\S]*ACTIVITY_LAMBDA_ARN/);
    } finally {
      db.close();
    }
  });
});
