// Paging helpers shared by the ledger adapters: page size bounds and opaque cursors.
import { LedgerInputError } from "./port.js";

export const DEFAULT_PAGE = 50;
export const MAX_PAGE = 200;

export function pageLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_PAGE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw new LedgerInputError(`limit must be an integer from 1 to ${MAX_PAGE}, got ${limit}`);
  return limit;
}

/** Cursors are opaque to callers: base64url of the last run id (or an adapter's resume key). */
export function encodeCursor(value: string): string {
  return Buffer.from(value, "utf8").toString("base64url");
}

export function decodeCursor(cursor: string): string {
  const value = Buffer.from(cursor, "base64url").toString("utf8");
  if (!value || encodeCursor(value) !== cursor) throw new LedgerInputError(`cursor ${JSON.stringify(cursor)} is not one this ledger returned; pass the previous page's "next"`);
  return value;
}
