// RFC 6962 Merkle tree hash (Certificate Transparency): leaves 0x00 || data, inner nodes 0x01 || left || right.
import { createHash } from "node:crypto";

const sha256 = (...parts: Uint8Array[]): Buffer => {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest();
};
const LEAF = Uint8Array.of(0x00);
const NODE = Uint8Array.of(0x01);

/** MTH(D[n]) of RFC 6962 §2.1; the empty tree hashes to sha256 of the empty string. */
export function merkleRoot(leaves: readonly Uint8Array[]): Buffer {
  if (leaves.length === 0) return sha256();
  return subtree(leaves.map((l) => sha256(LEAF, l)));
}

function subtree(hashes: readonly Buffer[]): Buffer {
  if (hashes.length === 1) return hashes[0]!;
  // k = the largest power of two smaller than n.
  let k = 1;
  while (k * 2 < hashes.length) k *= 2;
  return sha256(NODE, subtree(hashes.slice(0, k)), subtree(hashes.slice(k)));
}

/** The Merkle root (hex) over artifact digests: each leaf's data is the 32 raw bytes of one sha256, in order. */
export function artifactMerkleRoot(sha256Hex: readonly string[]): string {
  return merkleRoot(sha256Hex.map((h) => Buffer.from(h, "hex"))).toString("hex");
}
