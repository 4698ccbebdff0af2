// DSSE v1 envelopes: the pre-authentication encoding (PAE) that is signed, and the envelope JSON.
import { z } from "zod";

export const DsseEnvelope = z.object({
  payloadType: z.string().min(1),
  /** Base64 (standard) of the payload bytes. */
  payload: z.string(),
  signatures: z.array(z.object({ keyid: z.string(), sig: z.string() })).min(1),
});
export type DsseEnvelope = z.infer<typeof DsseEnvelope>;

/** PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, LEN in ASCII decimal bytes. */
export function pae(payloadType: string, payload: Uint8Array): Buffer {
  const type = Buffer.from(payloadType, "utf8");
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${payload.byteLength} `), payload]);
}
