import { drizzle, type NodePgDatabase } from "drizzle-orm/node-postgres";
import pg from "pg";
import * as schema from "./schema.ts";

/** The typed Drizzle database handle used by every query function. */
export type Database = NodePgDatabase<typeof schema>;

/** A transaction handle; query functions accept either this or {@link Database}. */
export type Transaction = Parameters<Parameters<Database["transaction"]>[0]>[0];

/** Anything a query can run on. */
export type Executor = Database | Transaction;

/** An open connection pool plus its Drizzle wrapper. */
export interface DbHandle {
  db: Database;
  pool: pg.Pool;
  close(): Promise<void>;
}

/** Opens a connection pool to `url`. Errors on idle clients are reported to `onError` instead of crashing. */
export function connectDatabase(
  url: string,
  options: { max?: number; onError?: (err: Error) => void } = {},
): DbHandle {
  const pool = new pg.Pool({ connectionString: url, max: options.max ?? 10 });
  pool.on("error", (err) => options.onError?.(err));
  const db = drizzle(pool, { schema });
  return { db, pool, close: () => pool.end() };
}

/** True when `err` is a PostgreSQL unique violation (SQLSTATE 23505), optionally on a given constraint. */
export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  const e = findPgError(err);
  return e?.code === "23505" && (constraint === undefined || e.constraint === constraint);
}

function findPgError(err: unknown): { code?: string; constraint?: string } | undefined {
  // Drizzle wraps driver errors; the pg error sits in `cause`.
  for (let e: unknown = err, depth = 0; e && depth < 5; depth++) {
    if (typeof e === "object" && "code" in e && typeof (e as { code: unknown }).code === "string") {
      return e as { code?: string; constraint?: string };
    }
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}
