/** Thompson sampling: determinism for a seed, agreement with the exact P(best) for two arms, the floor. */
import { chanceToBeatControl } from "../../lib/stats";
import { mulberry32, probabilityBest, thompsonSplit } from "../../services/abtests/bandit";

describe("thompson sampling", () => {
  const arms = [
    { kind: "beta" as const, alpha: 1 + 60, beta: 1 + 1940 },
    { kind: "beta" as const, alpha: 1 + 75, beta: 1 + 1925 },
  ];

  it("is deterministic for a seed and varies with it", () => {
    expect(thompsonSplit(arms, { seed: 1 })).toEqual(thompsonSplit(arms, { seed: 1 }));
    expect(thompsonSplit(arms, { seed: 1 })).not.toEqual(thompsonSplit(arms, { seed: 2 }));
  });

  it("estimates P(best) close to the exact chance to beat control", () => {
    const exact = chanceToBeatControl({ n1: 2000, x1: 60, n2: 2000, x2: 75 });
    const [, pB] = probabilityBest(arms, { seed: 42, draws: 40_000 });
    // Monte Carlo s.e. is √(p(1−p)/40000) ≈ 0.0023; 4 s.e. of slack.
    expect(Math.abs(pB - exact)).toBeLessThan(0.01);
  });

  it("keeps every arm at or above the floor and sums to 100", () => {
    const lopsided = [
      { kind: "beta" as const, alpha: 1, beta: 5000 },
      { kind: "beta" as const, alpha: 500, beta: 4500 },
      { kind: "normal" as const, mean: 0, sd: 0.001 },
    ];
    const split = thompsonSplit(lopsided, { seed: 3, floor: 0.05 });
    expect(split[0]).toBeCloseTo(5, 9);
    expect(split[2]).toBeCloseTo(5, 9);
    expect(split[1]).toBeCloseTo(90, 9);
    expect(split.reduce((a, b) => a + b, 0)).toBeCloseTo(100, 9);
    expect(() => thompsonSplit(lopsided, { seed: 3, floor: 0.4 })).toThrow(RangeError);
  });

  it("draws uniforms strictly inside (0, 1)", () => {
    const u = mulberry32(0);
    for (let i = 0; i < 100_000; i++) {
      const x = u();
      expect(x > 0 && x < 1).toBe(true);
    }
  });
});
