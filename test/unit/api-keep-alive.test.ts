/**
 * REST gateway connections: idle keep-alive connections outlive a load balancer's (65 s, not Node's 5 s,
 * which reset clients that sent just as it closed), and shutdown does not wait for them: idle, busy, or
 * open without a request yet (that one held shutdown until the headers timeout).
 */
import http from "node:http";
import net from "node:net";
import type { ServiceBroker } from "moleculer";
import { createTestDatabase, freePort, startBroker, type TestDatabase } from "../helpers/env";

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db?.drop();
});

async function gateway(): Promise<{ broker: ServiceBroker; url: string }> {
  const port = await freePort();
  const broker = await startBroker({ databaseUrl: db.url, port, services: ["api"] });
  return { broker, url: `http://127.0.0.1:${port}/health/live` };
}

function get(url: string, agent: http.Agent): Promise<{ status: number; keepAlive?: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
        res.resume();
        res.on("end", () => resolve({ status: res.statusCode!, keepAlive: res.headers["keep-alive"] as string | undefined }));
      })
      .on("error", reject);
  });
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = Date.now();
  await fn();
  return Date.now() - started;
}

it("keeps idle connections 65 s and closes them at once on shutdown", async () => {
  const { broker, url } = await gateway();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  try {
    const answers = await Promise.all([1, 2, 3, 4].map(() => get(url, agent)));
    expect(answers.every((a) => a.status === 200 && a.keepAlive === "timeout=65")).toBe(true);
    const open = Object.values(agent.freeSockets).flat().length;
    expect(open).toBe(4); // idle, kept by the client
    const closedIn = await timed(() => broker.stop());
    expect(closedIn).toBeLessThan(1_000);
  } finally {
    agent.destroy();
  }
});

it("does not wait on a client that keeps its connection busy", async () => {
  const { broker, url } = await gateway();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let sending = true;
  let answered = 0;
  let refused = 0;
  // One client sending back to back on its one connection, through the whole shutdown.
  const client = (async () => {
    while (sending) {
      await get(url, agent).then(
        () => answered++,
        () => refused++,
      );
    }
  })();
  try {
    while (answered < 20) await new Promise((r) => setTimeout(r, 10));
    const closedIn = await timed(() => broker.stop());
    // Without closing them, moleculer-web's server.close() waited until the client stopped (forever here).
    expect(closedIn).toBeLessThan(3_000);
    expect(answered).toBeGreaterThan(20);
    await new Promise((r) => setTimeout(r, 100));
    expect(refused).toBeGreaterThan(0); // the client found the server gone instead of hanging
  } finally {
    sending = false;
    await client;
    agent.destroy();
  }
});

it("does not wait on a connection that never sends a request", async () => {
  const { broker, url } = await gateway();
  const { port } = new URL(url);
  const socket = net.connect(Number(port), "127.0.0.1");
  await new Promise((resolve) => socket.once("connect", resolve));
  const closed = new Promise((resolve) => socket.once("close", resolve));
  try {
    const closedIn = await timed(() => broker.stop());
    expect(closedIn).toBeLessThan(3_000);
    await closed;
  } finally {
    socket.destroy();
  }
});
