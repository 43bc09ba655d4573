/**
 * lib/stats against reference values computed independently with scipy / mpmath by
 * test/fixtures/stats/generate.py (see its docstring for how each reference is obtained).
 *
 * Tolerance: 1e-9 absolute for every exported statistic. chanceToBeatControl uses 1e-9 when
 * it takes the exact Evan Miller sum and 1e-6 when it falls back to the (skewness-corrected)
 * normal approximation for very large counts. Tail probabilities (p-values down to 1e-92)
 * are additionally checked to 1e-12 relative, which 1e-9 absolute could never detect.
 * Internal helpers with huge magnitudes (ln B ~ 1e8) are checked relative to their size.
 */
import { readFileSync } from "fs";
import { join } from "path";
import {
  benjaminiHochberg,
  chanceToBeatControl,
  holm,
  sampleSizePerArm,
  sequentialTest,
  srmCheck,
  waldInterval,
  zTestTwoProportions,
} from "../../../lib/stats";
import type { SampleSizeInput, SequentialOptions, TwoArmCounts } from "../../../lib/stats";
import { betaWinProbability, MAX_EXACT_TERMS } from "../../../lib/stats/bayesian";
import {
  chiSquareSf,
  erfc,
  logBeta,
  logGammaRatio,
  normalCdf,
  normalQuantile,
  normalSf,
  regularizedGammaQ,
} from "../../../lib/stats/distributions";
import { sequentialHalfWidth, sequentialRho } from "../../../lib/stats/sequential";

interface PointCase {
  x: number;
  value: number;
}

interface Reference {
  distributions: {
    erfc: PointCase[];
    normalCdf: PointCase[];
    normalSf: PointCase[];
    normalQuantile: { p: number; value: number }[];
    chiSquareSf: { x: number; df: number; value: number }[];
    regularizedGammaQ: { a: number; x: number; value: number }[];
    logGammaRatio: { x: number; h: number; value: number }[];
    logBeta: { a: number; b: number; value: number }[];
  };
  counts: {
    name: string;
    input: TwoArmCounts;
    zTest: { p1: number; p2: number; pooledP: number; se: number; z: number; pValue: number };
    wald: Record<string, [number, number]>;
  }[];
  sampleSize: { input: SampleSizeInput; raw: number; expected: number }[];
  srm: { observed: number[]; weights: number[]; expected: { chi2: number; pValue: number; mismatch: boolean } }[];
  corrections: { pValues: number[]; holm: number[]; benjaminiHochberg: number[] }[];
  chanceToBeatControl: { name: string; input: TwoArmCounts; expected: number; crossChecks: string[] }[];
  sequential: {
    name: string;
    input: TwoArmCounts;
    options: SequentialOptions;
    expected: { estimate: number; se: number; ci: [number, number]; pValue: number };
  }[];
}

const reference: Reference = JSON.parse(
  readFileSync(join(__dirname, "../../fixtures/stats/reference.json"), "utf8"),
) as Reference;

const ABS_TOL = 1e-9;
const APPROX_TOL = 1e-6;
const TAIL_REL_TOL = 1e-12;

/** |actual − expected| ≤ tol, with a message naming the quantity when it fails. */
function expectClose(actual: number, expected: number, tol: number = ABS_TOL, label = ""): void {
  const error = Math.abs(actual - expected);
  if (!(error <= tol)) {
    throw new Error(`${label}: expected ${expected}, got ${actual} (|error| ${error} > ${tol})`);
  }
}

/** |actual − expected| ≤ rel·|expected| (for tail probabilities where absolute error says nothing). */
function expectRelClose(actual: number, expected: number, rel: number, label = ""): void {
  const error = Math.abs(actual - expected);
  if (!(error <= rel * Math.abs(expected))) {
    throw new Error(`${label}: expected ${expected}, got ${actual} (relative error ${error / Math.abs(expected)} > ${rel})`);
  }
}

function describeCounts(c: TwoArmCounts): string {
  return `n1=${c.n1} x1=${c.x1} n2=${c.n2} x2=${c.x2}`;
}

describe("distributions (internal helpers)", () => {
  it("erfc matches scipy.special.erfc, with full relative precision in the tail", () => {
    for (const { x, value } of reference.distributions.erfc) {
      expectClose(erfc(x), value, 1e-15, `erfc(${x})`);
      if (value > 0 && value < 1e-3) expectRelClose(erfc(x), value, 1e-13, `erfc(${x})`);
    }
  });

  it("normalCdf and normalSf match scipy.stats.norm, including deep tails", () => {
    for (const { x, value } of reference.distributions.normalCdf) {
      expectClose(normalCdf(x), value, 1e-15, `normalCdf(${x})`);
      if (value > 0 && value < 1e-3) expectRelClose(normalCdf(x), value, TAIL_REL_TOL, `normalCdf(${x})`);
    }
    for (const { x, value } of reference.distributions.normalSf) {
      expectClose(normalSf(x), value, 1e-15, `normalSf(${x})`);
      if (value > 0 && value < 1e-3) expectRelClose(normalSf(x), value, TAIL_REL_TOL, `normalSf(${x})`);
    }
  });

  it("normalQuantile matches scipy.stats.norm.ppf from p = 1e-300 to 1 − 1e-15", () => {
    for (const { p, value } of reference.distributions.normalQuantile) {
      expectClose(normalQuantile(p), value, ABS_TOL, `normalQuantile(${p})`);
      expectRelClose(normalQuantile(p), value, 1e-13, `normalQuantile(${p})`);
    }
  });

  it("normalQuantile handles the endpoints and rejects values outside [0, 1]", () => {
    expect(normalQuantile(0)).toBe(-Infinity);
    expect(normalQuantile(1)).toBe(Infinity);
    expect(normalQuantile(0.5)).toBe(0);
    expect(() => normalQuantile(-0.1)).toThrow(RangeError);
    expect(() => normalQuantile(1.5)).toThrow(RangeError);
    expect(() => normalQuantile(NaN)).toThrow(RangeError);
  });

  it("chiSquareSf and regularizedGammaQ match scipy", () => {
    for (const { x, df, value } of reference.distributions.chiSquareSf) {
      expectClose(chiSquareSf(x, df), value, ABS_TOL, `chiSquareSf(${x}, ${df})`);
      if (value < 1e-3) expectRelClose(chiSquareSf(x, df), value, 1e-9, `chiSquareSf(${x}, ${df})`);
    }
    for (const { a, x, value } of reference.distributions.regularizedGammaQ) {
      expectClose(regularizedGammaQ(a, x), value, ABS_TOL, `regularizedGammaQ(${a}, ${x})`);
    }
  });

  it("logBeta matches 40-digit mpmath to a few ulps of its magnitude", () => {
    for (const { a, b, value } of reference.distributions.logBeta) {
      expectClose(logBeta(a, b), value, ABS_TOL + 1e-14 * Math.abs(value), `logBeta(${a}, ${b})`);
    }
    expect(() => logBeta(0, 1)).toThrow(RangeError);
  });

  it("logGammaRatio matches 40-digit mpmath without forming the huge log-gammas", () => {
    for (const { x, h, value } of reference.distributions.logGammaRatio) {
      expectClose(logGammaRatio(x, h), value, ABS_TOL + 1e-14 * Math.abs(value), `logGammaRatio(${x}, ${h})`);
    }
  });
});

describe("zTestTwoProportions", () => {
  it.each(reference.counts.map((c) => [c.name, c] as const))("matches the reference: %s", (_name, c) => {
    const result = zTestTwoProportions(c.input);
    const label = describeCounts(c.input);
    for (const key of ["p1", "p2", "pooledP", "se", "z", "pValue"] as const) {
      expectClose(result[key], c.zTest[key], ABS_TOL, `${label} ${key}`);
    }
    if (c.zTest.pValue < 1e-6) expectRelClose(result.pValue, c.zTest.pValue, TAIL_REL_TOL, `${label} pValue`);
  });

  it("keeps relative precision for tiny p-values (z ≈ 10 and z ≈ 20)", () => {
    const z10 = zTestTwoProportions({ n1: 10_000, x1: 1_000, n2: 10_000, x2: 1_465 });
    expect(z10.z).toBeGreaterThan(9.9);
    expect(z10.pValue).toBeGreaterThan(1e-24);
    expect(z10.pValue).toBeLessThan(1e-22);
    const z20 = zTestTwoProportions({ n1: 100_000, x1: 10_000, n2: 100_000, x2: 12_900 });
    expect(z20.pValue).toBeGreaterThan(0);
    expect(z20.pValue).toBeLessThan(1e-90);
  });

  it("returns z = 0, p = 1 when the pooled SE is 0", () => {
    for (const counts of [
      { n1: 1000, x1: 0, n2: 1000, x2: 0 },
      { n1: 500, x1: 500, n2: 800, x2: 800 },
      { n1: 1, x1: 0, n2: 1, x2: 0 },
    ]) {
      const result = zTestTwoProportions(counts);
      expect(result.se).toBe(0);
      expect(result.z).toBe(0);
      expect(result.pValue).toBe(1);
    }
  });

  it("is antisymmetric in the arms", () => {
    const forward = zTestTwoProportions({ n1: 20_000, x1: 1_000, n2: 21_000, x2: 930 });
    const backward = zTestTwoProportions({ n1: 21_000, x1: 930, n2: 20_000, x2: 1_000 });
    expect(backward.z).toBeCloseTo(-forward.z, 12);
    expect(backward.pValue).toBeCloseTo(forward.pValue, 14);
  });
});

describe("waldInterval", () => {
  it.each(reference.counts.map((c) => [c.name, c] as const))("matches the reference: %s", (_name, c) => {
    for (const [confidence, [lo, hi]] of Object.entries(c.wald)) {
      const [gotLo, gotHi] = waldInterval(c.input, Number(confidence));
      const label = `${describeCounts(c.input)} confidence ${confidence}`;
      expectClose(gotLo, lo, ABS_TOL, `${label} lo`);
      expectClose(gotHi, hi, ABS_TOL, `${label} hi`);
    }
  });

  it("collapses to the point difference when both observed rates are 0 or 1", () => {
    expect(waldInterval({ n1: 100, x1: 100, n2: 80, x2: 0 }, 0.95)).toEqual([-1, -1]);
  });

  it("rejects confidence outside (0, 1)", () => {
    const counts = { n1: 100, x1: 10, n2: 100, x2: 12 };
    for (const confidence of [0, 1, -0.5, 95, NaN]) {
      expect(() => waldInterval(counts, confidence)).toThrow(/confidence must be in \(0, 1\)/);
    }
  });
});

describe("sampleSizePerArm", () => {
  it.each(reference.sampleSize.map((c) => [JSON.stringify(c.input), c] as const))(
    "matches the reference: %s",
    (_name, c) => {
      expect(sampleSizePerArm(c.input)).toBe(c.expected);
    },
  );

  it("applies the documented defaults (relative, alpha 0.05, power 0.8)", () => {
    const explicit = sampleSizePerArm({ baseline: 0.1, mde: 0.1, relative: true, alpha: 0.05, power: 0.8 });
    expect(sampleSizePerArm({ baseline: 0.1, mde: 0.1 })).toBe(explicit);
    expect(explicit).toBe(14_751);
  });

  it("rejects impossible designs", () => {
    expect(() => sampleSizePerArm({ baseline: 0, mde: 0.1 })).toThrow(/baseline/);
    expect(() => sampleSizePerArm({ baseline: 1, mde: 0.1 })).toThrow(/baseline/);
    expect(() => sampleSizePerArm({ baseline: 0.1, mde: 0 })).toThrow(/mde/);
    expect(() => sampleSizePerArm({ baseline: 0.6, mde: 1 })).toThrow(/variant rate/);
    expect(() => sampleSizePerArm({ baseline: 0.1, mde: 0.1, alpha: 0 })).toThrow(/alpha/);
    expect(() => sampleSizePerArm({ baseline: 0.1, mde: 0.1, power: 1 })).toThrow(/power/);
  });
});

describe("srmCheck", () => {
  it.each(reference.srm.map((c) => [`${c.observed} vs ${c.weights}`, c] as const))(
    "matches scipy.stats.chisquare: %s",
    (_name, c) => {
      const result = srmCheck(c.observed, c.weights);
      expectClose(result.chi2, c.expected.chi2, ABS_TOL, "chi2");
      expectClose(result.pValue, c.expected.pValue, ABS_TOL, "pValue");
      if (c.expected.pValue < 1e-6) expectRelClose(result.pValue, c.expected.pValue, 1e-9, "pValue");
      expect(result.mismatch).toBe(c.expected.mismatch);
    },
  );

  it("normalizes weights and flags a clear mismatch", () => {
    expect(srmCheck([5100, 4900], [1, 1])).toEqual(srmCheck([5100, 4900], [0.5, 0.5]));
    expect(srmCheck([50_000, 52_000], [1, 1]).mismatch).toBe(true);
    expect(srmCheck([5000, 5000], [1, 1])).toEqual({ chi2: 0, pValue: 1, mismatch: false });
  });

  it("rejects malformed inputs", () => {
    expect(() => srmCheck([100, 100], [1, 1, 1])).toThrow(/2 observed counts but 3 expected weights/);
    expect(() => srmCheck([100], [1])).toThrow(/at least 2 arms/);
    expect(() => srmCheck([100, -1], [1, 1])).toThrow(/observedCounts\[1\]/);
    expect(() => srmCheck([100, 1.5], [1, 1])).toThrow(/observedCounts\[1\]/);
    expect(() => srmCheck([100, 100], [1, 0])).toThrow(/expectedWeights\[1\]/);
    expect(() => srmCheck([100, 100], [1, NaN])).toThrow(/expectedWeights\[1\]/);
    expect(() => srmCheck([0, 0], [1, 1])).toThrow(/total observed count is 0/);
  });
});

describe("holm and benjaminiHochberg", () => {
  it.each(reference.corrections.map((c) => [JSON.stringify(c.pValues).slice(0, 60), c] as const))(
    "match the brute-force definitions: %s",
    (_name, c) => {
      const h = holm(c.pValues);
      const bh = benjaminiHochberg(c.pValues);
      expect(h).toHaveLength(c.pValues.length);
      expect(bh).toHaveLength(c.pValues.length);
      c.holm.forEach((v, i) => expectClose(h[i], v, ABS_TOL, `holm[${i}]`));
      c.benjaminiHochberg.forEach((v, i) => expectClose(bh[i], v, ABS_TOL, `bh[${i}]`));
    },
  );

  it("reproduce the textbook example in input order", () => {
    // statsmodels multipletests([.01,.02,.03,.04,.05], method='holm' / 'fdr_bh').
    const p = [0.05, 0.01, 0.04, 0.02, 0.03];
    holm(p).forEach((v, i) => expectClose(v, [0.09, 0.05, 0.09, 0.08, 0.09][i], 1e-15, `holm[${i}]`));
    benjaminiHochberg(p).forEach((v, i) => expectClose(v, 0.05, 1e-15, `bh[${i}]`));
  });

  it("are monotone in the raw p-values, never below them, and capped at 1", () => {
    const p = [0.3, 0.001, 0.6, 0.02, 0.02, 0.9, 0.04];
    for (const adjusted of [holm(p), benjaminiHochberg(p)]) {
      const order = p.map((_, i) => i).sort((a, b) => p[a] - p[b]);
      for (let k = 1; k < order.length; k += 1) {
        expect(adjusted[order[k]]).toBeGreaterThanOrEqual(adjusted[order[k - 1]]);
      }
      adjusted.forEach((v, i) => {
        expect(v).toBeGreaterThanOrEqual(p[i]);
        expect(v).toBeLessThanOrEqual(1);
      });
    }
  });

  it("reject p-values outside [0, 1]", () => {
    expect(() => holm([0.1, 1.2])).toThrow(/pValues\[1\] must be in \[0, 1\]/);
    expect(() => benjaminiHochberg([-0.1])).toThrow(RangeError);
    expect(() => benjaminiHochberg([NaN])).toThrow(RangeError);
  });
});

describe("chanceToBeatControl", () => {
  it.each(reference.chanceToBeatControl.map((c) => [c.name, c] as const))("matches the reference: %s", (_name, c) => {
    const { n1, x1, n2, x2 } = c.input;
    const detailed = betaWinProbability({ alpha: 1 + x1, beta: 1 + n1 - x1 }, { alpha: 1 + x2, beta: 1 + n2 - x2 });
    const tolerance = detailed.method === "exact-sum" ? ABS_TOL : APPROX_TOL;
    expect(chanceToBeatControl(c.input)).toBe(detailed.probability);
    expectClose(detailed.probability, c.expected, tolerance, `${describeCounts(c.input)} (${detailed.method})`);
  });

  it("uses the exact sum for ordinary sample sizes and the normal approximation only for huge counts", () => {
    const method = (n1: number, x1: number, n2: number, x2: number) =>
      betaWinProbability({ alpha: 1 + x1, beta: 1 + n1 - x1 }, { alpha: 1 + x2, beta: 1 + n2 - x2 }).method;
    expect(method(1000, 100, 1000, 120)).toBe("exact-sum");
    expect(method(100_000_000, 1_000_000, 100_000_000, 1_000_500)).toBe("exact-sum");
    expect(method(100_000_000, 1_000_000, 1_000_000, 10_050)).toBe("exact-sum");
    expect(method(100_000_000_000, 10_000_000_000, 100_000_000_000, 10_000_100_000)).toBe("normal-approximation");
    expect(method(1_000_000_000_000, 1_000_000_000, 10_000_000_000, 10_003_000)).toBe("normal-approximation");
  });

  it("falls back when the term budget is exhausted, and the fallback is accurate there", () => {
    const control = { alpha: 1 + 1_000_000, beta: 1 + 99_000_000 };
    const variant = { alpha: 1 + 1_000_500, beta: 1 + 98_999_500 };
    const exact = betaWinProbability(control, variant);
    const budgeted = betaWinProbability(control, variant, 10);
    expect(exact.method).toBe("exact-sum");
    expect(budgeted.method).toBe("normal-approximation");
    expectClose(budgeted.probability, exact.probability, APPROX_TOL, "budgeted fallback");
    expect(MAX_EXACT_TERMS).toBeGreaterThanOrEqual(100_000);
  });

  it("gives closed-form answers for n = 1 and symmetric data", () => {
    // Beta(1,2) vs Beta(2,1): P = 5/6; identical posteriors: P = 1/2.
    expectClose(chanceToBeatControl({ n1: 1, x1: 0, n2: 1, x2: 1 }), 5 / 6, 1e-15, "n=1");
    expectClose(chanceToBeatControl({ n1: 1, x1: 1, n2: 1, x2: 0 }), 1 / 6, 1e-15, "n=1 reversed");
    expectClose(chanceToBeatControl({ n1: 1000, x1: 0, n2: 1000, x2: 0 }), 0.5, 1e-14, "zero conversions");
    expectClose(chanceToBeatControl({ n1: 700, x1: 700, n2: 700, x2: 700 }), 0.5, 1e-14, "all converted");
  });

  it("is complementary when the arms are swapped", () => {
    for (const [n1, x1, n2, x2] of [
      [200, 30, 150, 17],
      [50_000, 2_500, 1_000, 70],
      [100, 100, 80, 0],
      [30_000_000, 123_456, 100_000, 400],
    ]) {
      const forward = chanceToBeatControl({ n1, x1, n2, x2 });
      const backward = chanceToBeatControl({ n1: n2, x1: x2, n2: n1, x2: x1 });
      expectClose(forward + backward, 1, 1e-12, `swap n1=${n1}`);
    }
  });

  it("is essentially 0 when control converted fully and variant never did", () => {
    const p = chanceToBeatControl({ n1: 100, x1: 100, n2: 80, x2: 0 });
    expect(p).toBeGreaterThan(0);
    expect(p).toBeLessThan(1e-50);
  });
});

describe("sequentialTest", () => {
  it.each(reference.sequential.map((c) => [c.name, c] as const))("matches the reference: %s", (_name, c) => {
    const result = sequentialTest(c.input, c.options);
    const label = describeCounts(c.input);
    expectClose(result.estimate, c.expected.estimate, ABS_TOL, `${label} estimate`);
    expectClose(result.se, c.expected.se, ABS_TOL, `${label} se`);
    expectClose(result.ci[0], c.expected.ci[0], ABS_TOL, `${label} ci lo`);
    expectClose(result.ci[1], c.expected.ci[1], ABS_TOL, `${label} ci hi`);
    expectClose(result.pValue, c.expected.pValue, ABS_TOL, `${label} pValue`);
    if (c.expected.pValue > 0 && c.expected.pValue < 1e-6) {
      expectRelClose(result.pValue, c.expected.pValue, 1e-9, `${label} pValue`);
    }
  });

  it("uses GrowthBook's default tuning (alpha 0.05, N* = 5000)", () => {
    const counts = { n1: 5000, x1: 500, n2: 5000, x2: 560 };
    expect(sequentialTest(counts)).toEqual(sequentialTest(counts, { alpha: 0.05, nStar: 5000 }));
    // ρ² = (−2 ln α + ln(−2 ln α + 1)) / N*
    const minusTwoLogAlpha = -2 * Math.log(0.05);
    expectClose(sequentialRho(0.05, 5000) ** 2, (minusTwoLogAlpha + Math.log(minusTwoLogAlpha + 1)) / 5000, 1e-18, "rho²");
  });

  it("is wider than the fixed-horizon Wald interval and its p-value is consistent with its interval", () => {
    const counts = { n1: 20_000, x1: 2_000, n2: 20_000, x2: 2_300 };
    const sequential = sequentialTest(counts);
    const [waldLo, waldHi] = waldInterval(counts, 0.95);
    expect(sequential.ci[0]).toBeLessThan(waldLo);
    expect(sequential.ci[1]).toBeGreaterThan(waldHi);
    // With ρ held at its design value, the level-α interval excludes 0 exactly when α > pValue.
    const rho = sequentialRho(0.05, 5000);
    const n = counts.n1 + counts.n2;
    const halfWidthAt = (alpha: number) => sequentialHalfWidth(sequential.se, n, rho, alpha);
    expect(sequential.pValue).toBeLessThan(0.05);
    expect(halfWidthAt(sequential.pValue * 1.001)).toBeLessThan(Math.abs(sequential.estimate));
    expect(halfWidthAt(sequential.pValue * 0.999)).toBeGreaterThan(Math.abs(sequential.estimate));
    expect(halfWidthAt(0.05)).toBeCloseTo((sequential.ci[1] - sequential.ci[0]) / 2, 15);
  });

  it("rejects invalid options", () => {
    const counts = { n1: 100, x1: 10, n2: 100, x2: 12 };
    expect(() => sequentialTest(counts, { alpha: 0 })).toThrow(/alpha/);
    expect(() => sequentialTest(counts, { alpha: 1 })).toThrow(/alpha/);
    expect(() => sequentialTest(counts, { nStar: 0 })).toThrow(/nStar/);
    expect(() => sequentialTest(counts, { nStar: Infinity })).toThrow(/nStar/);
  });
});

describe("input validation of two-arm counts", () => {
  const functions: [string, (counts: TwoArmCounts) => unknown][] = [
    ["zTestTwoProportions", zTestTwoProportions],
    ["waldInterval", (counts) => waldInterval(counts, 0.95)],
    ["chanceToBeatControl", chanceToBeatControl],
    ["sequentialTest", (counts) => sequentialTest(counts)],
  ];
  const invalid: [string, TwoArmCounts, RegExp][] = [
    ["n1 = 0", { n1: 0, x1: 0, n2: 10, x2: 1 }, /n1 must be a positive integer, got 0/],
    ["negative n2", { n1: 10, x1: 1, n2: -5, x2: 0 }, /n2 must be a positive integer, got -5/],
    ["fractional n1", { n1: 10.5, x1: 1, n2: 10, x2: 1 }, /n1 must be a positive integer/],
    ["NaN n2", { n1: 10, x1: 1, n2: NaN, x2: 1 }, /n2 must be a positive integer/],
    ["x1 > n1", { n1: 10, x1: 11, n2: 10, x2: 1 }, /x1 must be an integer with 0 ≤ x1 ≤ n1 \(10\), got 11/],
    ["negative x2", { n1: 10, x1: 1, n2: 10, x2: -1 }, /x2 must be an integer/],
    ["fractional x2", { n1: 10, x1: 1, n2: 10, x2: 0.5 }, /x2 must be an integer/],
    ["unsafe integer n1", { n1: 2 ** 53, x1: 1, n2: 10, x2: 1 }, /n1 must be a positive integer/],
  ];
  for (const [fnName, fn] of functions) {
    it.each(invalid)(`${fnName} throws a RangeError for %s`, (_case, counts, message) => {
      expect(() => fn(counts)).toThrow(RangeError);
      expect(() => fn(counts)).toThrow(message);
    });
  }
});
