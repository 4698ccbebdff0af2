// Builds the router's policy-dependent parts (policy, providers, redactor) from a loaded policy.
import type { LoadedPolicy } from "./policy.js";
import { buildProviders, type CredentialResolver } from "./providers/registry.js";
import { Redactor } from "./redaction/redactor.js";
import { SecretScanner } from "./redaction/scanner.js";
import type { RouterPolicy } from "./service.js";

export function routerPolicy(loaded: LoadedPolicy, resolve: CredentialResolver): RouterPolicy {
  return {
    loaded,
    providers: buildProviders(loaded, resolve),
    redactor: new Redactor(new SecretScanner(loaded.policy.redaction.patterns)),
  };
}
