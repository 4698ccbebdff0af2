// Gives the whole test run one temp root (TMPDIR) and removes it afterwards, so no test leaves files behind.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

export default function setup(): () => void {
  const root = mkdtempSync(path.join(tmpdir(), "orchestrator-tests-"));
  // Workers and the child processes tests spawn inherit it; os.tmpdir() reads TMPDIR.
  process.env["TMPDIR"] = root;
  return () => rmSync(root, { recursive: true, force: true });
}
