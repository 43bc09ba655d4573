/**
 * Test environment: a fresh PostgreSQL database per test file (jest runs files in parallel workers),
 * the NATS URL, ports that are free, brokers built like production ones, and signed tokens.
 */
import crypto from "node:crypto";
import net from "node:net";
import { Client } from "pg";
import type { ServiceBroker, ServiceSchema } from "moleculer";
import { signToken, type Role } from "../../lib/auth";
import { createBroker } from "../../lib/broker";
import { loadConfig, type Config } from "../../lib/config";

/** Server the tests create their databases on (trust auth on this machine and in CI). */
export const PG_ADMIN_URL = process.env.TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";
export const NATS_URL = process.env.TEST_NATS_URL ?? "nats://127.0.0.1:4222";
export const TEST_JWT_SECRET = "test-secret-test-secret-test-secret-0123456789";

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** CREATE DATABASE t_<random>; `drop()` removes it (forcing out leftover connections). */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `t_${crypto.randomBytes(6).toString("hex")}`;
  const admin = new Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return {
    name,
    url: withDatabase(PG_ADMIN_URL, name),
    async drop() {
      const c = new Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** A config as production reads it, with test ports, secret and quiet logs; `overrides` win. */
export function testConfig(overrides: Partial<Config> = {}): Config {
  return loadConfig({}, { logLevel: "warn", jwtSecret: TEST_JWT_SECRET, host: "127.0.0.1", ...overrides });
}

/**
 * A started broker hosting `services` on the given database (local transport unless natsUrl is set),
 * plus `extra` test services that must be there before jobs start running.
 */
export async function startBroker(overrides: Partial<Config>, extra: ServiceSchema[] = []): Promise<ServiceBroker> {
  const broker = createBroker(testConfig(overrides), { logger: false });
  for (const schema of extra) broker.createService(schema);
  await broker.start();
  return broker;
}

export function token(user: string, opts: { team?: string; role?: Role; expiresIn?: string | number } = {}): Promise<string> {
  return signToken(TEST_JWT_SECRET, { id: user, teamId: opts.team ?? null, role: opts.role ?? "owner" }, opts.expiresIn ?? "1h");
}

/** ctx.meta for calling actions directly on a broker as a given user. */
export function as(id: string, role: Role = "owner", teamId: string | null = null) {
  return { meta: { user: { id, role, teamId } } };
}
