/**
 * Segment sizing and refresh at scale, measured in one run on a fresh PostgreSQL database:
 *   seed:     1,000,000 fans of one creator (one generate_series INSERT), then ANALYZE;
 *   baseline: the hand-written SQL count for "spending high AND engagement > 50 AND active within 14 days";
 *   result:   `segmentation.calculateSegmentSize` for the same criteria through the broker (validation,
 *             criteria parsing and compilation, cache bypassed with meta.$cache = false);
 *   refresh:  creating (first materialization) and refreshing a ~100k-member dynamic segment, beside a
 *             plain `CREATE TEMP TABLE AS SELECT` of the same rows as the floor.
 * Usage: npx tsx bench/segment-size.ts [--fans 1000000] [--runs 15]
 */
import os from "node:os";
import { parseArgs } from "node:util";
import { Client } from "pg";
import { as, createTestDatabase, startBroker } from "../test/helpers/env";

const { values } = parseArgs({ options: { fans: { type: "string", default: "1000000" }, runs: { type: "string", default: "15" } } });
const FANS = Number(values.fans);
const RUNS = Number(values.runs);
const OWNER = "bench-owner";
/** The machine is shared: give the 100k materialization more than the default 10 s request timeout. */
const SLOW = 120_000;

const CRITERIA = { spendingLevel: "high", engagement: ">50", lastActiveAt: { withinLastDays: 14 } };
const HAND_WRITTEN = `SELECT count(*) AS n FROM fans
  WHERE owner_id = $1 AND spending_level = 'high' AND engagement > 50 AND last_active_at >= now() - interval '14 days'`;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (n: number) => `${n.toFixed(2)} ms`;

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const start = process.hrtime.bigint();
  const result = await fn();
  return [Number(process.hrtime.bigint() - start) / 1e6, result];
}

async function main() {
  console.log(`node ${process.version}, ${os.cpus().length} cores, ${FANS.toLocaleString("en")} fans, ${RUNS} runs each (median)`);
  const db = await createTestDatabase();
  const broker = await startBroker({ databaseUrl: db.url, services: ["segmentation"] });
  const pg = new Client({ connectionString: db.url });
  await pg.connect();
  try {
    // 10% high spenders, engagement uniform 0–100, last activity uniform over 60 days.
    const [seedMs] = await timed(() =>
      pg.query(
        `INSERT INTO fans (owner_id, id, spending_level, engagement, lifetime_value, last_active_at, subscription_status)
         SELECT $1, 'fan-' || g,
                CASE WHEN g % 10 = 0 THEN 'high' WHEN g % 10 < 4 THEN 'medium' ELSE 'low' END,
                (g * 7919) % 101,
                (g * 104729) % 1000,
                now() - ((g * 6271) % (60 * 86400)) * interval '1 second',
                CASE WHEN g % 3 = 0 THEN 'active' ELSE 'expired' END
         FROM generate_series(1::bigint, $2::bigint) AS g`,
        [OWNER, FANS],
      ),
    );
    await pg.query("ANALYZE fans");
    console.log(`seed: ${FANS.toLocaleString("en")} fans in ${(seedMs / 1000).toFixed(1)} s`);

    const viaAction = () =>
      broker.call<{ size: number }, unknown>("segmentation.calculateSegmentSize", { criteria: CRITERIA }, { meta: { ...as(OWNER).meta, $cache: false } });
    const viaSql = () => pg.query<{ n: string }>(HAND_WRITTEN, [OWNER]);

    // Warm both paths (plans, buffers, JIT), then interleave the runs so drift hits both alike.
    const expected = Number((await viaSql()).rows[0].n);
    const got = (await viaAction()).size;
    if (got !== expected) throw new Error(`calculateSegmentSize says ${got}, the hand-written count ${expected}`);
    const base: number[] = [];
    const result: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      base.push((await timed(viaSql))[0]);
      result.push((await timed(viaAction))[0]);
    }
    console.log(`segment size = ${expected.toLocaleString("en")} fans (spending high AND engagement > 50 AND active within 14 days)`);
    console.log(`baseline  hand-written SQL count:        ${ms(median(base))}`);
    console.log(`result    calculateSegmentSize (action): ${ms(median(result))}`);
    console.log(`ratio     ${(median(result) / median(base)).toFixed(2)}x (goal <= 1.2x)`);

    const refreshCriteria = { spendingLevel: "high" };
    const [floorMs] = await timed(() => pg.query(`CREATE TEMP TABLE floor AS SELECT owner_id, id FROM fans WHERE owner_id = $1 AND spending_level = 'high'`, [OWNER]));
    const [createMs, segment] = await timed(() =>
      broker.call<{ id: string; memberCount: number }, unknown>("segmentation.create", { name: "High spenders", type: "dynamic", criteria: refreshCriteria }, { ...as(OWNER), timeout: SLOW }),
    );
    // 5% of the members stop qualifying and as many new fans start to: the refresh has real work.
    await pg.query(`UPDATE fans SET spending_level = 'medium' WHERE owner_id = $1 AND spending_level = 'high' AND (substr(id, 5))::int % 200 = 0`, [OWNER]);
    await pg.query(`UPDATE fans SET spending_level = 'high' WHERE owner_id = $1 AND spending_level = 'low' AND (substr(id, 5))::int % 120 = 7`, [OWNER]);
    const [refreshMs, refreshed] = await timed(() => broker.call<{ memberCount: number }, unknown>("segmentation.refreshSegment", { id: segment.id }, { ...as(OWNER), timeout: SLOW }));
    const [noopMs] = await timed(() => broker.call("segmentation.refreshSegment", { id: segment.id }, { ...as(OWNER), timeout: SLOW }));
    console.log(`baseline  CREATE TEMP TABLE AS SELECT of the members:      ${ms(floorMs)}`);
    console.log(`result    create + first materialization (${segment.memberCount.toLocaleString("en")} members): ${ms(createMs)}`);
    console.log(`result    refresh after 5% churn (${refreshed.memberCount.toLocaleString("en")} members):    ${ms(refreshMs)}`);
    console.log(`result    refresh with nothing changed:                     ${ms(noopMs)}`);
  } finally {
    await pg.end();
    await broker.stop();
    await db.drop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
