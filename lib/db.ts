/**
 * Database access for every service: Drizzle over a node-postgres pool (DATABASE_URL) or over an
 * in-process PGlite (embedded mode), with the committed migrations applied at open. `pool` is what Agenda
 * uses: the node-postgres pool, or in embedded mode a small Pool-shaped facade over PGlite.
 */
import fs from "node:fs";
import path from "node:path";
import { Pool } from "pg";
import { sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { PGlite } from "@electric-sql/pglite";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";

export const PROJECT_ROOT = path.resolve(__dirname, "..");
const MIGRATIONS_FOLDER = path.join(PROJECT_ROOT, "migrations");
/** pg_advisory_lock key that serializes migrations between processes starting together. */
const MIGRATION_LOCK_KEY = 0x6d6b7467; // "mktg"

export type Db = PgDatabase<PgQueryResultHKT, Record<string, never>>;

export interface Database {
  kind: "postgres" | "pglite";
  db: Db;
  pool: Pool;
  /** Round trip to the database; throws when it is unreachable. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface OpenOptions {
  databaseUrl?: string;
  dataDir: string;
  poolSize?: number;
}

export class DataDirLockedError extends Error {
  constructor(dir: string, pid: number) {
    super(
      `The data folder ${dir} is in use by process ${pid}. PGlite allows one process per folder: ` +
        `stop that process, use another DATA_DIR, or set DATABASE_URL to share a PostgreSQL server.`,
    );
    this.name = "DataDirLockedError";
  }
}

export async function openDatabase(opts: OpenOptions): Promise<Database> {
  return opts.databaseUrl ? openPostgres(opts.databaseUrl, opts.poolSize ?? 10) : openPglite(opts.dataDir);
}

async function openPostgres(url: string, max: number): Promise<Database> {
  const pool = new Pool({ connectionString: url, max, connectionTimeoutMillis: 5_000 });
  // An idle client losing its server must not crash the process; the next query reconnects.
  pool.on("error", () => undefined);
  // Nor a checked-out one (a transaction between statements, or the error that follows a failed query when
  // the socket closes): the pool only listens on idle clients, and an 'error' event nobody listens to
  // throws. The statements in flight get the error themselves; the broken client is dropped on release.
  pool.on("connect", (client) => client.on("error", () => undefined));
  try {
    await applyMigrations(pool);
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw err;
  }
  return wrap("postgres", drizzle(pool), pool, async () => pool.end());
}

/** Applies the committed migrations on one client, under an advisory lock so starting nodes take turns. */
async function applyMigrations(pool: Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_KEY]);
    try {
      await migrate(drizzle(client), { migrationsFolder: MIGRATIONS_FOLDER });
    } finally {
      await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY]);
    }
  } finally {
    client.release();
  }
}

async function openPglite(dataDir: string): Promise<Database> {
  fs.mkdirSync(dataDir, { recursive: true });
  const releaseLock = takeLock(path.join(dataDir, "pglite.lock"));
  let pglite: PGlite | undefined;
  try {
    pglite = await PGlite.create(path.join(dataDir, "pgdata"));
    const db = drizzlePglite(pglite);
    await migratePglite(db, { migrationsFolder: MIGRATIONS_FOLDER });
    const pool = pglitePool(pglite);
    const instance = pglite;
    return wrap("pglite", db as unknown as Db, pool, async () => {
      await pool.end();
      await instance.close();
      releaseLock();
    });
  } catch (err) {
    await pglite?.close().catch(() => undefined);
    releaseLock();
    throw err;
  }
}

/**
 * The slice of node-postgres' Pool that Agenda's backend uses, answered by PGlite's own `query`/`exec`.
 * PGlite's `pg` adapter is not used: it speaks the wire protocol in several calls per statement, and
 * Drizzle's queries on the same PGlite slipped in between them under load ("unexpected parseComplete").
 * `query`/`exec` hold PGlite's lock for a whole statement, so everyone shares the one session safely.
 */
function pglitePool(pglite: PGlite): Pool {
  const run = async (text: string, params?: unknown[]) => {
    if (params?.length) {
      const r = await pglite.query(text, params);
      return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length };
    }
    // Without parameters a text may hold several statements (Agenda's schema set-up does).
    const results = await pglite.exec(text);
    const last = results[results.length - 1];
    return { rows: last?.rows ?? [], rowCount: last?.affectedRows ?? last?.rows.length ?? 0 };
  };
  const client = { query: run, release() {} };
  return {
    query: run,
    connect: async () => client,
    end: async () => undefined,
    on() {
      return this;
    },
  } as unknown as Pool;
}

function wrap(kind: Database["kind"], db: Db, pool: Pool, close: () => Promise<void>): Database {
  let closed: Promise<void> | undefined;
  return {
    kind,
    pool,
    db,
    async ping() {
      await db.execute(sql`SELECT 1`);
    },
    close() {
      closed ??= close();
      return closed;
    },
  };
}

/** An exclusive lock file holding our pid; a lock left by a dead process is taken over. */
function takeLock(file: string): () => void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: "wx" });
      return () => fs.rmSync(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const pid = Number(fs.readFileSync(file, "utf8"));
      if (pid && isAlive(pid)) throw new DataDirLockedError(path.dirname(file), pid);
      fs.rmSync(file, { force: true });
    }
  }
  throw new Error(`could not take the lock ${file}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
