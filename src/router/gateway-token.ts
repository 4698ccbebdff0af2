// Short-lived, run-scoped tokens for the model gateway (HS256 JWTs via jose): who may call models, for which run and role.
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { errors, jwtVerify, SignJWT } from "jose";
import { z } from "zod";
import { Role, RunType } from "./policy.js";

const ISSUER = "scintilla-orchestrator";
const AUDIENCE = "model-gateway";

/** What a gateway token grants: model calls for one run, in one role, routed by the run's type and repo. */
export const GatewayClaims = z.object({
  run_id: z.string().min(1),
  role: Role,
  run_type: RunType,
  repo: z.string().min(1),
  sensitivity: z.string().optional(),
});
export type GatewayClaims = z.infer<typeof GatewayClaims>;

/** Verified tokens remembered at once; an agent reuses its token for every call of its step. */
const MAX_VERIFIED = 1024;
const EXPIRED = "token expired; the run must mint a new one";

type Verified = { ok: true; claims: GatewayClaims } | { ok: false; reason: string };

export class GatewayTokens {
  private readonly key: Uint8Array;
  /**
   * Tokens whose signature and claims passed, by their exact text, with their expiry. A repeat
   * call skips the HMAC, which WebCrypto runs on the libuv thread pool: that round trip was the
   * gateway's latency tail. Expiry is still checked on every call, the same way jose checks it.
   */
  private readonly verified = new Map<string, { readonly result: Verified & { ok: true }; readonly exp: number }>();

  constructor(
    secret: Uint8Array,
    private readonly ttlSeconds: number,
    private readonly now: () => number = Date.now,
  ) {
    if (secret.length < 32) throw new Error("gateway token secret must be at least 32 bytes");
    this.key = secret;
  }

  /** A token for an agent of `claims.run_id`, valid for the configured lifetime (or `ttlSeconds`). */
  async mint(claims: GatewayClaims, ttlSeconds = this.ttlSeconds): Promise<string> {
    const c = GatewayClaims.parse(claims);
    return new SignJWT({ role: c.role, run_type: c.run_type, repo: c.repo, ...(c.sensitivity ? { sensitivity: c.sensitivity } : {}) })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject(c.run_id)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt(this.epochSeconds())
      .setExpirationTime(this.epochSeconds() + ttlSeconds)
      .sign(this.key);
  }

  /** The token's claims, or a reason it is not acceptable (expired, forged, malformed). */
  async verify(token: string): Promise<Verified> {
    const hit = this.verified.get(token);
    if (hit) {
      if (hit.exp > this.epochSeconds()) return hit.result;
      this.verified.delete(token);
      return { ok: false, reason: EXPIRED };
    }
    try {
      const { payload } = await jwtVerify(token, this.key, {
        algorithms: ["HS256"],
        issuer: ISSUER,
        audience: AUDIENCE,
        requiredClaims: ["exp", "sub"],
        currentDate: new Date(this.now()),
      });
      const claims = GatewayClaims.safeParse({ ...payload, run_id: payload.sub });
      if (!claims.success) return { ok: false, reason: "token lacks run claims (run_id, role, run_type, repo)" };
      const result = { ok: true as const, claims: Object.freeze(claims.data) };
      this.remember(token, result, payload.exp!);
      return result;
    } catch (err) {
      if (err instanceof errors.JWTExpired) return { ok: false, reason: EXPIRED };
      if (err instanceof errors.JWSSignatureVerificationFailed) return { ok: false, reason: "token signature is not ours" };
      if (err instanceof errors.JOSEError) return { ok: false, reason: `token rejected: ${err.message}` };
      return { ok: false, reason: "token is not a JWT" };
    }
  }

  /** jose's clock: whole seconds, a token being expired once `exp <= now`. */
  private epochSeconds(): number {
    return Math.floor(this.now() / 1000);
  }

  private remember(token: string, result: Verified & { ok: true }, exp: number): void {
    // Oldest first out: a Map iterates in insertion order.
    if (this.verified.size >= MAX_VERIFIED) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(token, { result, exp });
  }
}

/**
 * The signing secret: the configured one, else a random key kept in DATA_DIR (created on first
 * use, readable by this user only), so tokens survive restarts without any setup.
 */
export function gatewaySecret(configured: string | undefined, keyFile: string): Uint8Array {
  if (configured) return new TextEncoder().encode(configured);
  if (existsSync(keyFile)) return Buffer.from(readFileSync(keyFile, "utf8").trim(), "base64url");
  const key = randomBytes(32);
  writeFileSync(keyFile, `${key.toString("base64url")}\n`, { mode: 0o600, flag: "wx" });
  chmodSync(keyFile, 0o600);
  return key;
}
