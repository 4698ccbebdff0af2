// `orchestrator artifacts get`: writes a stored artifact out only once its bytes have been verified against its sha256.
import { createReadStream, createWriteStream, mkdtempSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import type { Command } from "commander";
import { Sha256Hex } from "../../orchestrator/artifacts/port.js";
import { withAuditStores } from "../audit-stores.js";
import { EXIT_USAGE, type CliContext } from "../context.js";

export default function register(program: Command, ctx: CliContext): void {
  const artifacts = program.command("artifacts").description("Read content-addressed artifacts (sha256/<hex>).");
  artifacts
    .command("get <sha256>")
    .description("Write the artifact to stdout or --out, after verifying its digest; a corrupt artifact exits 1 and writes nothing.")
    .option("-o, --out <file>", "write to this file instead of stdout")
    .option("--info", "print size and metadata instead of the bytes")
    .action(async (sha: string, o: { out?: string; info?: boolean }) => {
      const sha256 = sha.replace(/^sha256[:/]/, "");
      if (!Sha256Hex.safeParse(sha256).success) {
        process.stderr.write(`"${sha}" is not a sha256: give 64 lowercase hex digits (optionally prefixed sha256/)\n`);
        process.exit(EXIT_USAGE);
      }
      await withAuditStores(ctx, async (stores) => {
        if (o.info) {
          const info = await stores.artifacts.stat(sha256);
          if (!info) throw new Error(`no artifact sha256/${sha256} in the store`);
          process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
          return 0;
        }
        // Bytes land in a temp file first and are published only after the digest checked out.
        const dir = mkdtempSync(path.join(o.out ? path.dirname(path.resolve(o.out)) : tmpdir(), ".artifact-"));
        const tmp = path.join(dir, sha256);
        try {
          await pipeline(await stores.artifacts.stream(sha256), createWriteStream(tmp));
          if (o.out) renameSync(tmp, o.out);
          else await pipeline(createReadStream(tmp), process.stdout, { end: false });
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
        return 0;
      });
    });
}
