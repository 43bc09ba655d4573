/** Deterministic assignment: split accuracy over 100k ids, stability across processes, independence of tests. */
import { execFileSync } from "node:child_process";
import path from "node:path";
import { armForBucket, assignVariant, bucketOf } from "../../services/abtests/assignment";

const arms = [
  { id: "control", weight: 50 },
  { id: "b", weight: 30 },
  { id: "c", weight: 20 },
];

describe("assignVariant", () => {
  it("matches the split within 1% over 100k fans", () => {
    const counts: Record<string, number> = { control: 0, b: 0, c: 0 };
    for (let i = 0; i < 100_000; i++) counts[assignVariant("test-1", `fan-${i}`, arms).arm.id]++;
    for (const arm of arms) expect(Math.abs(counts[arm.id] / 100_000 - arm.weight / 100)).toBeLessThan(0.01);
  });

  it("gives the same bucket in another process", () => {
    const ids = ["fan-1", "fan-2", "ünïcode-fan", "x".repeat(200)];
    const script = `const { bucketOf } = require(${JSON.stringify(path.resolve(__dirname, "../../services/abtests/assignment.ts"))});
      process.stdout.write(JSON.stringify(${JSON.stringify(ids)}.map((id) => bucketOf("test-9", id))));`;
    const out = execFileSync(process.execPath, ["--import", "tsx", "-e", script], { encoding: "utf8" });
    expect(JSON.parse(out)).toEqual(ids.map((id) => bucketOf("test-9", id)));
  });

  it("buckets each test independently", () => {
    let same = 0;
    for (let i = 0; i < 10_000; i++) if ((bucketOf("t-1", `f${i}`) < 0.5) === (bucketOf("t-2", `f${i}`) < 0.5)) same++;
    expect(same / 10_000).toBeGreaterThan(0.48);
    expect(same / 10_000).toBeLessThan(0.52);
  });

  it("stays in [0, 1) and places bucket edges on the cumulative split", () => {
    for (let i = 0; i < 1000; i++) {
      const b = bucketOf("t", String(i));
      expect(b).toBeGreaterThanOrEqual(0);
      expect(b).toBeLessThan(1);
    }
    expect(armForBucket(arms, 0).id).toBe("control");
    expect(armForBucket(arms, 0.4999).id).toBe("control");
    expect(armForBucket(arms, 0.5).id).toBe("b");
    expect(armForBucket(arms, 0.8).id).toBe("c");
    expect(armForBucket(arms, 0.999999999).id).toBe("c");
  });
});
