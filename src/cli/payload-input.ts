// Reading a webhook payload for the CLI: a file or standard input, as raw bytes and parsed JSON; bad input exits 2.
import { readFile } from "node:fs/promises";
import { text } from "node:stream/consumers";
import { EXIT_USAGE } from "./context.js";

export function usageError(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(EXIT_USAGE);
}

export async function readPayload(file: string | undefined): Promise<{ raw: Buffer; payload: unknown }> {
  let raw: Buffer;
  try {
    raw = file ? await readFile(file) : Buffer.from(await text(process.stdin), "utf8");
  } catch (err) {
    return usageError(`cannot read ${file ?? "standard input"}: ${(err as Error).message}`);
  }
  if (raw.length === 0) usageError(`${file ?? "standard input"} is empty; give a JSON webhook payload`);
  try {
    return { raw, payload: JSON.parse(raw.toString("utf8")) };
  } catch (err) {
    return usageError(`${file ?? "standard input"} is not JSON: ${(err as Error).message}`);
  }
}
