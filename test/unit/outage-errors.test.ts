/**
 * What an outage looks like to a client (the long version is test/reliability/outages.rel.ts): real
 * PostgreSQL connection failures, as Drizzle reports them, are a retryable 503; transporter and timeout
 * failures of the broker are a REST 503 with Retry-After; timeouts are not retried; a session the server
 * terminates under a checked-out client does not crash the process.
 */
import { sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/node-postgres";
import { Errors } from "moleculer";
import { Client, Pool } from "pg";
import { openDatabase, type Database } from "../../lib/db";
import { fromDatabaseError, isRetryable, isSafeToRetry, ServiceUnavailableError } from "../../lib/errors";
import { toHttpError } from "../../services/api/errors";
import { createTestDatabase, freePort, PG_ADMIN_URL, type TestDatabase } from "../helpers/env";

async function terminate(pid: number): Promise<void> {
  const admin = new Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query("SELECT pg_terminate_backend($1)", [pid]);
  } finally {
    await admin.end();
  }
}

async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error("expected the query to fail");
}

describe("database errors", () => {
  it("maps a query on a session the server terminated (57P01, wrapped by Drizzle) to a retryable 503", async () => {
    const client = new Client({ connectionString: PG_ADMIN_URL });
    client.on("error", () => undefined);
    await client.connect();
    try {
      await terminate((client as unknown as { processID: number }).processID);
      const err = await failure(drizzle(client).execute(sql`SELECT 1`));
      // Drizzle's wrapper hides the driver's code in `cause`.
      expect((err as Error).message).toMatch(/^Failed query/);
      const mapped = fromDatabaseError(err);
      expect(mapped).toBeInstanceOf(ServiceUnavailableError);
      expect(isRetryable(mapped)).toBe(true);
      expect(toHttpError(mapped)).toMatchObject({ status: 503, body: { type: "SERVICE_UNAVAILABLE" }, retryAfter: 1 });
    } finally {
      await client.end().catch(() => undefined);
    }
  });

  it("maps no server at all (ECONNREFUSED) to a 503", async () => {
    const pool = new Pool({ connectionString: `postgres://postgres@127.0.0.1:${await freePort()}/none` });
    try {
      const mapped = fromDatabaseError(await failure(drizzle(pool).execute(sql`SELECT 1`)));
      expect(mapped).toMatchObject({ code: 503, type: "SERVICE_UNAVAILABLE", data: { code: "ECONNREFUSED" } });
    } finally {
      await pool.end();
    }
  });

  it("leaves other database errors alone, even when the query's parameters quote an outage message", async () => {
    const pool = new Pool({ connectionString: PG_ADMIN_URL, max: 1 });
    try {
      const err = await failure(drizzle(pool).execute(sql`SELECT ${"Connection terminated unexpectedly"}::int`));
      expect(fromDatabaseError(err)).toBe(err);
    } finally {
      await pool.end();
    }
  });

  describe("a checked-out client whose session is terminated", () => {
    let db: TestDatabase;
    let database: Database;

    beforeAll(async () => {
      db = await createTestDatabase();
      database = await openDatabase({ databaseUrl: db.url, dataDir: "/nonexistent", poolSize: 2 });
    });

    afterAll(async () => {
      await database?.close();
      await db?.drop();
    });

    it("does not crash the process, and the pool serves the next query", async () => {
      const client = await database.pool.connect();
      const ended = new Promise((r) => client.once("end", r));
      // Between two statements of a transaction: no query is active, so the client itself emits 'error'.
      await terminate((client as unknown as { processID: number }).processID);
      await ended;
      client.release();
      await expect(database.ping()).resolves.toBeUndefined();
    });
  });
});

/** Moleculer builds this one itself (no arguments); its typings ask for the generic ones. */
const brokerDisconnected = () => new (Errors.BrokerDisconnectedError as unknown as new () => Errors.MoleculerRetryableError)();

describe("broker errors at the REST gateway", () => {
  it.each([
    ["the transporter is disconnected", brokerDisconnected()],
    ["no node offers the service", new Errors.ServiceNotAvailableError({ action: "analytics.track" })],
    ["the remote node did not answer in time", new Errors.RequestTimeoutError({ action: "analytics.track", nodeID: "n1" })],
    ["the request's time ran out before a nested call", new Errors.RequestSkippedError({ action: "campaigns.get", nodeID: "n1" })],
  ])("%s → 503 with Retry-After", (_case, err) => {
    const http = toHttpError(err);
    expect(http.status).toBe(503);
    expect(http.retryAfter).toBe(1);
  });

  it("retries what failed fast, but not a timeout (the work may still be running, and the time is spent)", () => {
    expect(isSafeToRetry(brokerDisconnected())).toBe(true);
    expect(isSafeToRetry(new ServiceUnavailableError("The database is unavailable"))).toBe(true);
    expect(isSafeToRetry(new Errors.RequestTimeoutError({ action: "campaigns.create", nodeID: "n1" }))).toBe(false);
    expect(isSafeToRetry(new Errors.MoleculerClientError("bad", 422))).toBe(false);
  });
});
