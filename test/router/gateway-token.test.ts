// Gateway tokens: verified once, then remembered until their expiry, which is checked on every call.
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { GatewayTokens } from "../../src/router/gateway-token.js";

const claims = { run_id: "01JRUN0000000000000000000A", role: "builder" as const, run_type: "impl_change" as const, repo: "acme/app" };
const key = (fill: number) => new Uint8Array(32).fill(fill);

describe("gateway tokens", () => {
  it("accepts a token again on later calls and refuses it once its exp passes, though it verified before", async () => {
    let now = Date.parse("2026-11-25T10:00:00Z");
    const tokens = new GatewayTokens(key(7), 60, () => now);
    const token = await tokens.mint(claims);
    expect(await tokens.verify(token)).toEqual({ ok: true, claims });
    now += 59_000;
    expect(await tokens.verify(token)).toEqual({ ok: true, claims });
    // jose's rule: expired as soon as exp <= now, in whole seconds.
    now += 1_000;
    expect(await tokens.verify(token)).toEqual({ ok: false, reason: expect.stringMatching(/expired/) });
    expect(await tokens.verify(token)).toEqual({ ok: false, reason: expect.stringMatching(/expired/) });
  });

  it("refuses a token whose signature or claims were altered after the genuine one verified", async () => {
    const tokens = new GatewayTokens(key(7), 600);
    const token = await tokens.mint(claims);
    expect((await tokens.verify(token)).ok).toBe(true);
    const [header, payload, signature] = token.split(".") as [string, string, string];
    const flipped = `${header}.${payload}.${signature.slice(0, -2)}${signature.endsWith("AA") ? "BB" : "AA"}`;
    expect(await tokens.verify(flipped)).toEqual({ ok: false, reason: expect.stringMatching(/signature|rejected/) });
    const other = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, "base64url").toString()), sub: "01JRUN0000000000000000000B" })).toString("base64url");
    expect(await tokens.verify(`${header}.${other}.${signature}`)).toEqual({ ok: false, reason: expect.stringMatching(/signature/) });
  });

  it("refuses a token signed with another key, and one without run claims", async () => {
    const ours = new GatewayTokens(key(7), 600);
    const theirs = new GatewayTokens(key(9), 600);
    expect(await ours.verify(await theirs.mint(claims))).toEqual({ ok: false, reason: "token signature is not ours" });
    expect(await ours.verify("not.a.jwt")).toEqual({ ok: false, reason: expect.stringMatching(/^token rejected: /) });
    // Signed with our key, for our issuer and audience, but carrying no run.
    const runless = await new SignJWT({ sub: "someone" })
      .setProtectedHeader({ alg: "HS256" })
      .setIssuer("scintilla-orchestrator")
      .setAudience("model-gateway")
      .setExpirationTime("10m")
      .sign(key(7));
    expect(await ours.verify(runless)).toEqual({ ok: false, reason: "token lacks run claims (run_id, role, run_type, repo)" });
  });

  it("keeps a bounded number of verified tokens and verifies the ones it forgot in full again", async () => {
    const tokens = new GatewayTokens(key(7), 600);
    const first = await tokens.mint(claims);
    const verified = await tokens.verify(first);
    // A remembered token answers with the very result of its first verification.
    expect(await tokens.verify(first)).toBe(verified);
    for (let i = 0; i < 1100; i++) expect((await tokens.verify(await tokens.mint({ ...claims, run_id: `run-${i}` }))).ok).toBe(true);
    // 1,100 tokens later the first one was forgotten: it is verified again, to an equal but new result.
    const again = await tokens.verify(first);
    expect(again).toEqual({ ok: true, claims });
    expect(again).not.toBe(verified);
  });
});
