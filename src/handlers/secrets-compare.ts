// Constant-time comparison of a presented secret against the accepted ones (current and, while rotating, previous).
import { createHash, timingSafeEqual } from "node:crypto";

/** True when `presented` equals one of `accepted`; hashing first makes lengths equal so timing reveals nothing. */
export function matchesAnySecret(presented: string, accepted: readonly (string | undefined)[]): boolean {
  const p = createHash("sha256").update(presented).digest();
  let ok = false;
  for (const secret of accepted) {
    if (secret === undefined) continue;
    // No early exit: every accepted secret is compared.
    ok = timingSafeEqual(p, createHash("sha256").update(secret).digest()) || ok;
  }
  return ok;
}
