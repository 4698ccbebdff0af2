// `orchestrator evidence sign|show|verify`: a run's signed evidence bundle, by run id or bundle file.
import { existsSync, readFileSync } from "node:fs";
import type { Command } from "commander";
import type { EvidenceBundle } from "../../orchestrator/evidence/bundle.js";
import { SIGNING_KEYS_PATH, type AuditStores } from "../../orchestrator/evidence/wire.js";
import { RunId } from "../../orchestrator/ledger/port.js";
import { publicKeyRecordFromPem, SigningKeys, type PublicKeyRecord } from "../../orchestrator/signing/port.js";
import { runIdOrExit, withAuditStores } from "../audit-stores.js";
import { EXIT_USAGE, type CliContext } from "../context.js";

export default function register(program: Command, ctx: CliContext): void {
  const evidence = program.command("evidence").description("Seal, show and verify signed evidence bundles (in-toto + SLSA provenance in DSSE; docs/evidence.md).");
  evidence
    .command("sign <run-id>")
    .description("Build and sign the run's bundle at its current ledger head, store it as an artifact and record it in the ledger.")
    .action(async (id: string) => {
      const runId = runIdOrExit(id);
      await withAuditStores(ctx, async ({ evidence }) => {
        const { bundle, stored } = await evidence.seal(runId);
        process.stdout.write(`sealed ${runId} at ledger seq ${bundle.manifest.ledger.head_seq}: bundle sha256/${stored.sha256}, merkle root ${bundle.manifest.merkle_root}\n`);
        return 0;
      });
    });
  evidence
    .command("show <run-id|bundle-file>")
    .description("Print a bundle (the run's latest, or a file) with its manifest.")
    .action(async (target: string) => {
      const file = fileOrRun(target);
      await withAuditStores(ctx, async (stores) => {
        const bundle = await load(stores, target, file);
        if (!bundle) return 1;
        process.stdout.write(`${JSON.stringify(bundle, null, 2)}\n`);
        return 0;
      });
    });
  evidence
    .command("verify <run-id|bundle-file>")
    .description("Check signature, manifest digest, Merkle root and, for runs held here, the ledger and artifacts. Exit 1 listing every problem.")
    .option("--keys <file>", "trust these keys (signing-keys.json or a PEM) instead of this orchestrator's own")
    .action(async (target: string, o: { keys?: string }) => {
      const file = fileOrRun(target);
      const keys = o.keys === undefined ? undefined : readKeys(o.keys);
      await withAuditStores(ctx, async (stores) => {
        const bundle = await load(stores, target, file);
        if (!bundle) return 1;
        const check = await stores.evidence.verify(bundle, keys);
        if (check.ok) {
          const m = check.manifest!;
          process.stdout.write(`evidence OK: ${m.run_id}, ${m.artifacts.length} artifacts, merkle root ${m.merkle_root}, ledger seq ${m.ledger.head_seq}, signed by ${check.keyid}\n`);
          return 0;
        }
        process.stdout.write(`evidence verification FAILED:\n${check.problems.map((p) => `  - ${p}`).join("\n")}\n`);
        return 1;
      });
    });
}

/** A run id stays a run id; anything else must be a readable file. */
function fileOrRun(target: string): string | undefined {
  if (RunId.safeParse(target).success) return undefined;
  if (existsSync(target)) return target;
  process.stderr.write(`"${target}" is neither a run id (run_<ULID>) nor a bundle file\n`);
  return process.exit(EXIT_USAGE);
}

async function load(stores: AuditStores, target: string, file: string | undefined): Promise<EvidenceBundle | unknown | undefined> {
  if (file) {
    try {
      return JSON.parse(readFileSync(file, "utf8")) as unknown;
    } catch (err) {
      process.stderr.write(`${file} is not JSON: ${err instanceof Error ? err.message : String(err)}\n`);
      return undefined;
    }
  }
  const bundle = await stores.evidence.latest(target);
  if (!bundle) process.stderr.write(`no evidence bundle sealed for ${target}; seal one with \`orchestrator evidence sign ${target}\`\n`);
  return bundle;
}

function readKeys(file: string): PublicKeyRecord[] {
  try {
    const text = readFileSync(file, "utf8");
    if (text.trimStart().startsWith("{")) return SigningKeys.parse(JSON.parse(text)).keys;
    if (text.includes("-----BEGIN PUBLIC KEY-----")) return [publicKeyRecordFromPem(text, file)];
    process.stderr.write(`--keys ${file}: give the signing-keys.json document served at ${SIGNING_KEYS_PATH}, or a public key PEM\n`);
  } catch (err) {
    process.stderr.write(`--keys ${file}: ${err instanceof Error ? err.message : String(err)}\n`);
  }
  return process.exit(EXIT_USAGE);
}
