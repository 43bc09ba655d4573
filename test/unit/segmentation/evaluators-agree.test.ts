/**
 * Property: for random fans and random criteria, the SQL compiler (run on the real database) and the
 * in-memory evaluator select exactly the same fans. Fans are read back from the database before the
 * in-memory side sees them, so both judge the stored values.
 */
import fc from "fast-check";
import { openDatabase, type Database } from "../../../lib/db";
import { systemAudit } from "../../../services/audit/context";
import { DAY_MS, evaluateCriteria, parseCriteria, type Criteria } from "../../../services/segmentation/criteria";
import { FAN_PLATFORMS, SPENDING_LEVELS, SUBSCRIPTION_STATUSES } from "../../../services/segmentation/schema";
import { SegmentationStore, type FanInput } from "../../../services/segmentation/store";
import { createTestDatabase, type TestDatabase } from "../../helpers/env";

jest.setTimeout(120_000);

let db: TestDatabase;
let database: Database;
let store: SegmentationStore;
const NOW = new Date(Date.UTC(2026, 10, 15, 12, 0, 0, 0));
const THRESHOLDS = { medium: 50, high: 200 };

beforeAll(async () => {
  db = await createTestDatabase();
  database = await openDatabase({ databaseUrl: db.url, dataDir: "/tmp/unused", poolSize: 2 });
  store = new SegmentationStore(database.db);
});

afterAll(async () => {
  await database?.close();
  await db?.drop();
});

const WORDS = ["ana", "anna", "bob", "Bo", "", "zed", "a%b", "x_y"];
const TAGS = ["vip", "whale", "new", "churned"];
const ATTR_KEYS = ["color", "age", "flag"];

/** Instants near `NOW`, with exact day boundaries (and a millisecond either side) well represented. */
const instant = fc.oneof(
  fc.integer({ min: -40 * DAY_MS, max: 40 * DAY_MS }).map((ms) => new Date(NOW.getTime() - ms)),
  fc.tuple(fc.integer({ min: -3, max: 30 }), fc.constantFrom(-1, 0, 1)).map(([d, e]) => new Date(NOW.getTime() - d * DAY_MS + e)),
);
const nullable = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null });
const attrValue = fc.oneof(fc.constantFrom(...WORDS), fc.integer({ min: -5, max: 100 }), fc.double({ min: -5, max: 100, noNaN: true }), fc.boolean(), fc.constant(null), fc.constant(["red"]));
const number = fc.oneof(fc.integer({ min: 0, max: 300 }), fc.double({ min: 0, max: 300, noNaN: true, noDefaultInfinity: true }));

const fanArb = fc.record({
  platform: nullable(fc.constantFrom(...FAN_PLATFORMS)),
  displayName: nullable(fc.constantFrom(...WORDS)),
  subscriptionStatus: fc.constantFrom(...SUBSCRIPTION_STATUSES),
  subscribedAt: nullable(instant),
  lastActiveAt: nullable(instant),
  lifetimeValue: number,
  spendingLevel: fc.constantFrom(...SPENDING_LEVELS),
  engagement: fc.oneof(fc.integer({ min: 0, max: 100 }), fc.double({ min: 0, max: 100, noNaN: true })),
  tags: fc.uniqueArray(fc.constantFrom(...TAGS), { maxLength: 4 }),
  attributes: fc.dictionary(fc.constantFrom(...ATTR_KEYS), attrValue, { maxKeys: 3, noNullPrototype: true }),
  timezone: nullable(fc.constantFrom("UTC", "Europe/Paris")),
  consent: fc.boolean(),
});

const iso = instant.map((d) => d.toISOString());
const days = fc.integer({ min: -2, max: 30 });

/** Leaves per field, with values that hit stored ones often. */
const leafArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.record({ field: fc.constantFrom("displayName", "id"), op: fc.constantFrom("eq", "neq", "contains", "startsWith"), value: fc.constantFrom(...WORDS, "f1") }),
  fc.record({ field: fc.constant("displayName"), op: fc.constantFrom("in", "nin"), value: fc.uniqueArray(fc.constantFrom(...WORDS), { minLength: 1 }) }),
  fc.record({ field: fc.constantFrom("platform", "displayName", "timezone", "subscribedAt", "lastActiveAt", "noActivityDays", "tags"), op: fc.constant("exists"), value: fc.boolean() }),
  fc.record({ field: fc.constant("platform"), op: fc.constantFrom("eq", "neq"), value: fc.constantFrom(...FAN_PLATFORMS) }),
  fc.record({ field: fc.constant("platform"), op: fc.constantFrom("in", "nin"), value: fc.uniqueArray(fc.constantFrom(...FAN_PLATFORMS), { minLength: 1 }) }),
  fc.record({ field: fc.constantFrom("spending_level", "subscriptionStatus"), op: fc.constantFrom("eq", "neq"), value: fc.constantFrom(...SPENDING_LEVELS, "active", "none") }).filter(
    (l) => (l.field === "spending_level" ? (SPENDING_LEVELS as readonly string[]) : SUBSCRIPTION_STATUSES).includes(l.value as never),
  ),
  fc.record({ field: fc.constantFrom("engagement", "lifetime_value"), op: fc.constantFrom("eq", "neq", "gt", "gte", "lt", "lte"), value: number }),
  fc.record({ field: fc.constant("engagement"), op: fc.constant("between"), value: fc.tuple(number, number).map(([a, b]) => [Math.min(a, b), Math.max(a, b)]) }),
  fc.record({ field: fc.constant("engagement"), op: fc.constantFrom("in", "nin"), value: fc.uniqueArray(fc.integer({ min: 0, max: 100 }), { minLength: 1, maxLength: 5 }) }),
  fc.record({ field: fc.constant("no_activity_days"), op: fc.constantFrom("eq", "neq", "gt", "gte", "lt", "lte"), value: days }),
  fc.record({ field: fc.constant("noActivityDays"), op: fc.constant("between"), value: fc.tuple(days, days).map(([a, b]) => [Math.min(a, b), Math.max(a, b)]) }),
  fc.record({ field: fc.constant("noActivityDays"), op: fc.constantFrom("in", "nin"), value: fc.uniqueArray(days, { minLength: 1, maxLength: 4 }) }),
  fc.record({ field: fc.constantFrom("lastActiveAt", "subscribedAt"), op: fc.constantFrom("gt", "gte", "lt", "lte"), value: iso }),
  fc.record({ field: fc.constantFrom("lastActiveAt", "subscribedAt"), op: fc.constant("between"), value: fc.tuple(iso, iso).map(([a, b]) => (a < b ? [a, b] : [b, a])) }),
  fc.record({ field: fc.constantFrom("lastActiveAt", "subscribedAt"), op: fc.constantFrom("withinLastDays", "olderThanDays"), value: fc.oneof(days.map(Math.abs), fc.double({ min: 0, max: 30, noNaN: true })) }),
  fc.record({ field: fc.constant("consent"), op: fc.constantFrom("eq", "neq"), value: fc.boolean() }),
  fc.record({ field: fc.constant("tags"), op: fc.constantFrom("contains", "in", "nin"), value: fc.oneof(fc.constantFrom(...TAGS), fc.uniqueArray(fc.constantFrom(...TAGS), { minLength: 1 })) }).filter(
    (l) => l.op === "contains" || Array.isArray(l.value),
  ),
  fc.record({ field: fc.constantFrom(...ATTR_KEYS.map((k) => `attributes.${k}`)), op: fc.constantFrom("eq", "neq"), value: fc.oneof(fc.constantFrom(...WORDS), fc.integer({ min: -5, max: 100 }), fc.boolean()) }),
  fc.record({ field: fc.constantFrom(...ATTR_KEYS.map((k) => `attributes.${k}`)), op: fc.constantFrom("in", "nin"), value: fc.uniqueArray(fc.oneof(fc.constantFrom(...WORDS), fc.integer({ min: 0, max: 5 })), { minLength: 1, maxLength: 3 }) }),
  fc.record({ field: fc.constantFrom(...ATTR_KEYS.map((k) => `attributes.${k}`)), op: fc.constantFrom("gt", "gte", "lt", "lte"), value: fc.integer({ min: -5, max: 100 }) }),
  fc.record({ field: fc.constantFrom(...ATTR_KEYS.map((k) => `attributes.${k}`)), op: fc.constantFrom("contains", "startsWith"), value: fc.constantFrom(...WORDS) }),
  fc.record({ field: fc.constantFrom(...ATTR_KEYS.map((k) => `attributes.${k}`)), op: fc.constant("exists"), value: fc.boolean() }),
);

const criteriaArb: fc.Arbitrary<unknown> = fc.letrec<{ node: unknown }>((tie) => ({
  node: fc.oneof(
    { maxDepth: 4, depthIdentifier: "criteria" },
    leafArb,
    fc.record({ all: fc.array(tie("node"), { maxLength: 4 }) }),
    fc.record({ any: fc.array(tie("node"), { maxLength: 4 }) }),
    fc.record({ not: tie("node") }),
  ),
})).node;

let run = 0;

it("the SQL compiler and evaluateCriteria select the same fans", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fanArb, { minLength: 1, maxLength: 25 }), criteriaArb, async (fanSpecs, raw) => {
      const ownerId = `prop-${run++}`;
      const inputs: FanInput[] = fanSpecs.map((f, i) => ({ ...f, id: `f${i}` }));
      const stored = (await store.upsertFans({ id: ownerId, teamId: null, role: "owner" }, inputs, THRESHOLDS, systemAudit("test.seed"))).map((r) => r.fan);
      const criteria: Criteria = parseCriteria(raw);
      const inMemory = stored.filter((fan) => evaluateCriteria(fan, criteria, NOW)).map((f) => f.id).sort();
      const inSql = await store.matchingFanIds(ownerId, criteria, NOW);
      expect(inSql).toEqual(inMemory);
    }),
    { numRuns: 300 },
  );
});
