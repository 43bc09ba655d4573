/**
 * Event ingestion throughput, measured in one run on the same PostgreSQL server and the same table:
 *   baseline: raw COPY of N rows shaped like tracked events into analytics_events (pg-copy-streams);
 *   result:   the same N events through POST /api/track/batch (1000 per request, a few requests in flight)
 *             on the real runner (campaigns + analytics + api in one process): JWT, validation, campaign
 *             check, fan hashing, dedupe by primary key, commit before the answer.
 * Then p99 latency of POST /api/track (one event per request) at 50 concurrent clients (autocannon).
 * Usage: npx tsx bench/ingest.ts [--events 100000 --concurrency 4 --seconds 10]
 */
import crypto from "node:crypto";
import os from "node:os";
import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { Client } from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { createTestDatabase, freePort, TEST_JWT_SECRET, token } from "../test/helpers/env";
import { startNode } from "../test/helpers/process";

const { values } = parseArgs({
  options: { events: { type: "string", default: "100000" }, concurrency: { type: "string", default: "4" }, seconds: { type: "string", default: "10" } },
});
const N = Number(values.events);
const CONCURRENCY = Number(values.concurrency);
const SECONDS = Number(values.seconds);
const BATCH = 1000;
const PLATFORMS = ["onlyfans", "instagram", "tiktok", "reddit"];
const TYPES = ["impression", "impression", "impression", "click", "conversion"];

/** The i-th event of the run, identical in both paths (the COPY path hashes the fan id itself). */
function event(i: number, campaignId: string) {
  return {
    type: TYPES[i % TYPES.length],
    campaignId,
    platform: PLATFORMS[i % PLATFORMS.length],
    fanId: `fan-${i % 5000}`,
    variantId: i % 2 ? "a" : "b",
    value: TYPES[i % TYPES.length] === "conversion" ? 9.99 : undefined,
    eventId: `ev-${i}`,
    occurredAt: new Date(Date.now() - (i % 3600) * 1000).toISOString(),
  };
}

async function copyBaseline(url: string, ownerId: string, campaignId: string): Promise<number> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const key = crypto.randomBytes(32);
    function* lines() {
      for (let i = 0; i < N; i++) {
        const e = event(i, campaignId);
        const hash = crypto.createHmac("sha256", key).update(ownerId).update("\u0000").update(e.fanId).digest("base64url");
        yield `${ownerId},copy-${i},,${campaignId},${e.type},${e.platform},${e.variantId},${hash},${e.value ?? 0},0,USD,${e.occurredAt}\n`;
      }
    }
    const started = process.hrtime.bigint();
    await pipeline(
      Readable.from(lines()),
      client.query(copyFrom("COPY analytics_events (owner_id, event_id, team_id, campaign_id, type, platform, variant_id, fan_hash, value, cost, currency, occurred_at) FROM STDIN (FORMAT csv)")),
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    // Both runs start from an empty table with the same indexes.
    await client.query("TRUNCATE analytics_events");
    return N / seconds;
  } finally {
    await client.end();
  }
}

async function restBatches(baseUrl: string, bearer: string, campaignId: string): Promise<{ rate: number; created: number; duplicates: number }> {
  const bodies = Array.from({ length: Math.ceil(N / BATCH) }, (_, b) =>
    JSON.stringify({ events: Array.from({ length: Math.min(BATCH, N - b * BATCH) }, (_, j) => event(b * BATCH + j, campaignId)) }),
  );
  let next = 0;
  let created = 0;
  let duplicates = 0;
  const worker = async () => {
    while (next < bodies.length) {
      const body = bodies[next++];
      const res = await fetch(`${baseUrl}/api/track/batch`, { method: "POST", headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" }, body });
      if (res.status !== 200) throw new Error(`batch answered ${res.status}: ${await res.text()}`);
      const counts = (await res.json()) as { new: number; duplicates: number };
      created += counts.new;
      duplicates += counts.duplicates;
    }
  };
  const started = process.hrtime.bigint();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { rate: N / seconds, created, duplicates };
}

async function singleEventLatency(baseUrl: string, bearer: string, campaignId: string) {
  const opts = {
    url: `${baseUrl}/api/track`,
    method: "POST" as const,
    connections: 50,
    headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
    // No eventId: each request is a new event with a generated id.
    body: JSON.stringify({ type: "impression", campaignId, platform: "instagram", fanId: "fan-1" }),
  };
  await autocannon({ ...opts, duration: 2 });
  const r = await autocannon({ ...opts, duration: SECONDS });
  if (r.non2xx || r.errors) throw new Error(`track: ${r.non2xx} non-2xx, ${r.errors} errors`);
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99 };
}

async function main() {
  console.log(`node ${process.version}, ${os.cpus().length} cores, N=${N} events, ${CONCURRENCY} batch requests in flight`);
  const db = await createTestDatabase();
  const port = await freePort();
  const node = await startNode({
    DATABASE_URL: db.url,
    JWT_SECRET: TEST_JWT_SECRET,
    SERVICES: "campaigns,analytics,api",
    PORT: String(port),
    HOST: "127.0.0.1",
    LOG_LEVEL: "error",
    // One user sends thousands of single events per second here, past the default request budget.
    RATE_LIMIT_PER_MINUTE: "1000000000",
  });
  try {
    const baseUrl = `http://127.0.0.1:${port}`;
    const bearer = await token("bench-owner");
    const created = await fetch(`${baseUrl}/api/campaigns`, {
      method: "POST",
      headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "Bench", type: "ppv" }),
    }).then((r) => r.json() as Promise<{ id: string }>);

    const copyRate = await copyBaseline(db.url, "bench-owner", created.id);
    console.log(`baseline  raw COPY into analytics_events:        ${Math.round(copyRate).toLocaleString("en")} events/s`);
    const rest = await restBatches(baseUrl, bearer, created.id);
    if (rest.created !== N) throw new Error(`expected ${N} new events, the endpoint counted ${rest.created}`);
    console.log(`result    POST /api/track/batch (dedupe, commit): ${Math.round(rest.rate).toLocaleString("en")} events/s  (${rest.created} new)`);
    console.log(`ratio     ${(rest.rate / copyRate).toFixed(2)}× of raw COPY (goal ≥ 0.5×)`);
    const again = await restBatches(baseUrl, bearer, created.id);
    console.log(`retry     same ${N} events again: ${again.duplicates} duplicates, ${again.created} new, ${Math.round(again.rate).toLocaleString("en")} events/s`);
    const single = await singleEventLatency(baseUrl, bearer, created.id);
    console.log(`single    POST /api/track, 50 clients, ${SECONDS} s: ${Math.round(single.rps).toLocaleString("en")} req/s, p50 ${single.p50} ms, p99 ${single.p99} ms`);
  } finally {
    await node.stop();
    await db.drop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
