import { errors } from "@wrenn/common";

/**
 * The row an `INSERT … RETURNING` gave back. PostgreSQL always returns the inserted row, so a
 * missing one means a broken invariant (a trigger or rule swallowed it), not a user mistake:
 * an `internal` error with a code, like every other failure a request can reach.
 */
export function insertedRow<T>(row: T | undefined, table: string): T {
  if (!row) throw errors.internal(`insert into ${table} returned no row`);
  return row;
}
