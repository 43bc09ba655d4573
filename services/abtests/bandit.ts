/**
 * Bandit traffic mode: Thompson sampling. Each arm's metric has a posterior — Beta(1 + successes,
 * 1 + failures) for rates, Normal(mean, variance/n) for revenue per impression — and an arm's new share is
 * the probability that it is the best, estimated by drawing once from every posterior per round. Shares
 * are then bounded below by a floor so no arm starves (the test must still be able to reach significance
 * and to notice when an arm recovers): share = floor + (1 − k·floor)·P(best).
 * Randomness comes from a seeded PRNG, so a given seed gives the same split (tests pin it).
 */

export type ArmPosterior =
  | { kind: "beta"; alpha: number; beta: number }
  | { kind: "normal"; mean: number; sd: number };

export interface BanditOptions {
  /** Seed of the PRNG; equal seeds give equal splits. */
  seed: number;
  /** Sampling rounds (default 10 000: P(best) within ~0.005). */
  draws?: number;
  /** Minimum share of every arm, as a fraction (default 0.05). */
  floor?: number;
}

/** mulberry32 (Tommy Ettinger, public domain): a small 32-bit PRNG with a full 2³² period; uniform in (0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
}

/** Standard normal draw by the Box–Muller transform. */
function normalDraw(uniform: () => number): number {
  return Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}

/**
 * Gamma(shape, 1) draw by Marsaglia & Tsang, "A simple method for generating gamma variables" (ACM TOMS
 * 26(3), 2000); shapes below 1 use their boost Gamma(a) = Gamma(a + 1)·U^(1/a).
 */
function gammaDraw(shape: number, uniform: () => number): number {
  if (shape < 1) return gammaDraw(shape + 1, uniform) * Math.pow(uniform(), 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const x = normalDraw(uniform);
    const v = (1 + c * x) ** 3;
    if (v <= 0) continue;
    const u = uniform();
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
  }
}

/** Beta(a, b) as X/(X + Y) with X ~ Gamma(a), Y ~ Gamma(b). */
function betaDraw(a: number, b: number, uniform: () => number): number {
  const x = gammaDraw(a, uniform);
  return x / (x + gammaDraw(b, uniform));
}

function draw(posterior: ArmPosterior, uniform: () => number): number {
  return posterior.kind === "beta" ? betaDraw(posterior.alpha, posterior.beta, uniform) : posterior.mean + posterior.sd * normalDraw(uniform);
}

/** P(arm is best) for each arm, by Monte Carlo over the posteriors. */
export function probabilityBest(arms: readonly ArmPosterior[], options: BanditOptions): number[] {
  const uniform = mulberry32(options.seed);
  const draws = options.draws ?? 10_000;
  const wins = new Array<number>(arms.length).fill(0);
  for (let round = 0; round < draws; round++) {
    let best = 0;
    let bestValue = -Infinity;
    arms.forEach((arm, i) => {
      const value = draw(arm, uniform);
      if (value > bestValue) {
        bestValue = value;
        best = i;
      }
    });
    wins[best]++;
  }
  return wins.map((w) => w / draws);
}

/** New split in percent (summing to 100), every arm at least `floor`. */
export function thompsonSplit(arms: readonly ArmPosterior[], options: BanditOptions): number[] {
  const floor = options.floor ?? 0.05;
  if (floor * arms.length > 1) throw new RangeError(`a floor of ${floor} cannot hold for ${arms.length} arms`);
  const pBest = probabilityBest(arms, options);
  return pBest.map((p) => 100 * (floor + (1 - arms.length * floor) * p));
}
