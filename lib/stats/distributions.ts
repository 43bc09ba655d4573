/**
 * Special functions and distribution helpers used by the A/B-testing statistics.
 *
 * What comes from mathjs (checked against mathjs 15.2 exports): `erf` (W. J. Cody's
 * rational Chebyshev approximation) and `lgamma` (Lanczos, g = 5, n = 7; absolute
 * error ≈ 1e-10). mathjs has no erfc, no normal quantile, no incomplete gamma and no
 * log-beta, so those are implemented here from the cited published algorithms.
 *
 * All functions are pure and operate on plain IEEE doubles.
 */
import { erf, lgamma } from "mathjs";

const SQRT2 = Math.SQRT2;
const SQRT_2PI = Math.sqrt(2 * Math.PI);
const LN_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);

// ---------------------------------------------------------------------------
// Complementary error function
// ---------------------------------------------------------------------------

/** Below this |x| Cody uses the erf series; erf(x) < 0.5 there, so 1 − erf(x) has no cancellation. */
const ERF_SERIES_LIMIT = 0.46875;

/**
 * Coefficients of W. J. Cody, "Rational Chebyshev approximations for the error function",
 * Math. Comp. 23 (1969) 631–637, as published in netlib SPECFUN `CALERF`.
 * Interval 0.46875 ≤ x ≤ 4: erfc(x) ≈ exp(−x²) · P₈(x)/Q₈(x).
 */
const ERFC_MID_NUM = [
  5.64188496988670089e-1, 8.88314979438837594, 6.61191906371416295e1, 2.98635138197400131e2,
  8.81952221241769090e2, 1.71204761263407058e3, 2.05107837782607147e3, 1.23033935479799725e3,
];
const ERFC_MID_DEN = [
  1.57449261107098347e1, 1.17693950891312499e2, 5.37181101862009858e2, 1.62138957456669019e3,
  3.29079923573345963e3, 4.36261909014324716e3, 3.43936767414372164e3, 1.23033935480374942e3,
];
const ERFC_MID_LEAD = 2.15311535474403846e-8;

/** Interval x > 4: erfc(x) ≈ exp(−x²)/x · (1/√π + x⁻² P₅(x⁻²)/Q₅(x⁻²)) (same source). */
const ERFC_TAIL_NUM = [
  3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1, 1.60837851487422766e-2,
  6.58749161529837803e-4,
];
const ERFC_TAIL_DEN = [
  2.56852019228982242, 1.87295284992346047, 5.27905102951428412e-1, 6.05183413124413191e-2,
  2.33520497626869185e-3,
];
const ERFC_TAIL_LEAD = 1.63153871373020978e-2;
const ONE_OVER_SQRT_PI = 5.6418958354775628695e-1;

/**
 * exp(−y²) evaluated as exp(−t²)·exp(−(y−t)(y+t)) with t = y rounded down to 1/16.
 * Cody's trick: t² is exact in binary, so the large exponent carries no rounding error
 * and erfc keeps full relative precision deep in the tail.
 */
function expMinusSquare(y: number): number {
  const t = Math.trunc(y * 16) / 16;
  return Math.exp(-t * t) * Math.exp(-(y - t) * (y + t));
}

/** Cody's erfc for 0.46875 ≤ y ≤ 4. */
function erfcMid(y: number): number {
  let num = ERFC_MID_LEAD * y;
  let den = y;
  for (let i = 0; i < 7; i += 1) {
    num = (num + ERFC_MID_NUM[i]) * y;
    den = (den + ERFC_MID_DEN[i]) * y;
  }
  return expMinusSquare(y) * ((num + ERFC_MID_NUM[7]) / (den + ERFC_MID_DEN[7]));
}

/** Cody's erfc for y > 4 (asymptotic form in 1/y²). */
function erfcTail(y: number): number {
  const invSq = 1 / (y * y);
  let num = ERFC_TAIL_LEAD * invSq;
  let den = invSq;
  for (let i = 0; i < 4; i += 1) {
    num = (num + ERFC_TAIL_NUM[i]) * invSq;
    den = (den + ERFC_TAIL_DEN[i]) * invSq;
  }
  const correction = (invSq * (num + ERFC_TAIL_NUM[4])) / (den + ERFC_TAIL_DEN[4]);
  return (expMinusSquare(y) * (ONE_OVER_SQRT_PI - correction)) / y;
}

/**
 * Complementary error function erfc(x) = 1 − erf(x) with full relative precision in the
 * upper tail (relative error ~1e-16 up to the underflow point x ≈ 26.5).
 *
 * mathjs's `erf` computes the same Cody approximation internally but returns 1 − erfc,
 * which rounds every tail value below ~1e-17 to zero; hence the tail branches here.
 */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (Math.abs(x) < ERF_SERIES_LIMIT) return 1 - erf(x);
  if (x < 0) return 2 - erfc(-x);
  return x <= 4 ? erfcMid(x) : erfcTail(x);
}

// ---------------------------------------------------------------------------
// Normal distribution
// ---------------------------------------------------------------------------

/** Standard normal density φ(x). */
export function normalPdf(x: number): number {
  return Math.exp(-0.5 * x * x) / SQRT_2PI;
}

/** Standard normal CDF Φ(x) = erfc(−x/√2)/2; accurate relative to Φ in the lower tail. */
export function normalCdf(x: number): number {
  return 0.5 * erfc(-x / SQRT2);
}

/**
 * Standard normal survival function 1 − Φ(x) = erfc(x/√2)/2.
 * Never computed as 1 − Φ(x): that subtraction loses all digits once Φ(x) rounds to 1
 * (x ≳ 8.3), whereas this stays accurate to ~1e-15 relative out to x ≈ 37.
 */
export function normalSf(x: number): number {
  return 0.5 * erfc(x / SQRT2);
}

/**
 * Coefficients of P. J. Acklam's rational approximation to the normal quantile
 * ("An algorithm for computing the inverse normal cumulative distribution function", 2003;
 * relative error < 1.15e-9 before refinement).
 */
const ACKLAM_A = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
const ACKLAM_B = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
const ACKLAM_C = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
const ACKLAM_D = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
const ACKLAM_P_LOW = 0.02425;

function polynomial(coefficients: readonly number[], x: number): number {
  return coefficients.reduce((acc, c) => acc * x + c, 0);
}

/** Acklam's initial approximation for 0 < p ≤ 0.5 (lower half only; callers use symmetry). */
function acklamLowerHalf(p: number): number {
  if (p < ACKLAM_P_LOW) {
    const q = Math.sqrt(-2 * Math.log(p));
    return polynomial(ACKLAM_C, q) / (polynomial(ACKLAM_D, q) * q + 1);
  }
  const q = p - 0.5;
  const r = q * q;
  return (polynomial(ACKLAM_A, r) * q) / (polynomial(ACKLAM_B, r) * r + 1);
}

/**
 * One Halley step on Φ(x) − p = 0, as recommended by Acklam. Halley converges cubically,
 * so the 1e-9 starting error drops to the precision of Φ itself (~1e-15 relative).
 * Skipped when φ(x) underflows (p < ~1e-300), where the step would be 0/0.
 */
function halleyRefine(x: number, p: number): number {
  const density = normalPdf(x);
  if (density === 0) return x;
  const u = (normalCdf(x) - p) / density;
  return x - u / (1 + 0.5 * x * u);
}

/**
 * Standard normal quantile Φ⁻¹(p): Acklam's approximation plus one Halley refinement.
 * For p > 0.5 the lower-tail value of 1 − p is used (exact in floating point for
 * p ∈ [0.5, 1] by Sterbenz's lemma), so both tails are computed where Φ is most precise.
 */
export function normalQuantile(p: number): number {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`normalQuantile: p must be in [0, 1], got ${p}`);
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  if (p > 0.5) return -normalQuantile(1 - p);
  return halleyRefine(acklamLowerHalf(p), p);
}

// ---------------------------------------------------------------------------
// Gamma family
// ---------------------------------------------------------------------------

/** Natural log of Γ(x) for x > 0 (mathjs Lanczos implementation). */
export function logGamma(x: number): number {
  return lgamma(x);
}

/**
 * Stirling-series remainder δ(x) = lnΓ(x) − [(x − ½)ln x − x + ln√(2π)] for x ≥ 10
 * (DLMF 5.11.1: Σ B₂ₖ / (2k(2k−1) x^(2k−1))). Eight terms give < 1e-17 absolute error at x = 10.
 */
const STIRLING_COEFFICIENTS = [1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360, 1 / 156, -3617 / 122400];
const STIRLING_MIN_X = 10;

function stirlingRemainder(x: number): number {
  const invSq = 1 / (x * x);
  let sum = 0;
  for (let k = STIRLING_COEFFICIENTS.length - 1; k >= 0; k -= 1) sum = sum * invSq + STIRLING_COEFFICIENTS[k];
  return sum / x;
}

/**
 * ln B(a, b) = lnΓ(a) + lnΓ(b) − lnΓ(a + b) for a, b > 0.
 *
 * The direct lgamma formula cancels terms of size ~(a+b)·ln(a+b): at a + b = 1e8 that is
 * ~2e9, whose rounding alone is 2e-7. For large arguments we therefore use the
 * Stirling form (as in R's `lbeta`, after TOMS 708), where the big pieces are written
 * with log1p of the ratio p/(p+q), leaving only terms of size ~p·ln((p+q)/p):
 *   p, q ≥ 10:      ln B = ln√(2π) − ½ln q + δ(p)+δ(q)−δ(p+q) + (p−½)ln(p/(p+q)) + q·log1p(−p/(p+q))
 *   p < 10 ≤ q:     ln B = lnΓ(p) + δ(q)−δ(p+q) + p − p·ln(p+q) + (q−½)·log1p(−p/(p+q))
 * with p = min(a, b), q = max(a, b).
 */
export function logBeta(a: number, b: number): number {
  if (!(a > 0 && b > 0)) throw new RangeError(`logBeta: arguments must be positive, got ${a}, ${b}`);
  const p = Math.min(a, b);
  const q = Math.max(a, b);
  const total = p + q;
  const fraction = p / total;
  if (p >= STIRLING_MIN_X) {
    const correction = stirlingRemainder(p) + stirlingRemainder(q) - stirlingRemainder(total);
    return LN_SQRT_2PI - 0.5 * Math.log(q) + correction + (p - 0.5) * Math.log(fraction) + q * Math.log1p(-fraction);
  }
  if (q >= STIRLING_MIN_X) {
    const correction = stirlingRemainder(q) - stirlingRemainder(total);
    return logGamma(p) + correction + p - p * Math.log(total) + (q - 0.5) * Math.log1p(-fraction);
  }
  return logGamma(p) + logGamma(q) - logGamma(total);
}

/**
 * lnΓ(x + h) − lnΓ(x) for x > 0, h ≥ 0, without forming the two (possibly huge) log-gammas.
 * For x ≥ 10 both sides use Stirling's series, and the difference is rearranged as
 *   (x − ½)·log1p(h/x) + h·ln(x + h) − h + δ(x + h) − δ(x),
 * whose terms are of size ~h·ln(x + h) rather than x·ln x.
 */
export function logGammaRatio(x: number, h: number): number {
  if (h === 0) return 0;
  if (x < STIRLING_MIN_X) return logGamma(x + h) - logGamma(x);
  return (x - 0.5) * Math.log1p(h / x) + h * Math.log(x + h) - h + stirlingRemainder(x + h) - stirlingRemainder(x);
}

/** Size of the terms rounded in logGammaRatio(x, h), ~h·(1 + ln(x + h)), for error estimates. */
export function logGammaRatioScale(x: number, h: number): number {
  return h * (1 + Math.abs(Math.log(x + h)));
}

/** Convergence is declared when the next correction is below one ulp of 1. */
const GAMMA_EPSILON = Number.EPSILON;
const GAMMA_MAX_ITERATIONS = 100_000;
const LENTZ_TINY = 1e-300;

/** ln(xᵃ e⁻ˣ / Γ(a)), the common prefactor of both incomplete-gamma expansions. */
function logGammaPrefactor(a: number, x: number): number {
  return a * Math.log(x) - x - logGamma(a);
}

/** P(a, x) by its power series (Abramowitz & Stegun 6.5.29); converges fast for x < a + 1. */
function regularizedGammaPSeries(a: number, x: number): number {
  let term = 1 / a;
  let sum = term;
  for (let n = 1; n < GAMMA_MAX_ITERATIONS; n += 1) {
    term *= x / (a + n);
    sum += term;
    if (Math.abs(term) <= Math.abs(sum) * GAMMA_EPSILON) return sum * Math.exp(logGammaPrefactor(a, x));
  }
  throw new Error(`regularizedGammaP: series did not converge for a=${a}, x=${x}`);
}

/**
 * Q(a, x) by its continued fraction (A&S 6.5.31), evaluated with the modified Lentz method
 * (Thompson & Barnett 1986; Numerical Recipes §5.2/§6.2). Converges fast for x ≥ a + 1,
 * and computing Q directly (not 1 − P) keeps small tail probabilities precise.
 */
function regularizedGammaQContinuedFraction(a: number, x: number): number {
  let b = x + 1 - a;
  let c = 1 / LENTZ_TINY;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < GAMMA_MAX_ITERATIONS; i += 1) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < LENTZ_TINY) d = LENTZ_TINY;
    c = b + an / c;
    if (Math.abs(c) < LENTZ_TINY) c = LENTZ_TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) <= GAMMA_EPSILON) return Math.exp(logGammaPrefactor(a, x)) * h;
  }
  throw new Error(`regularizedGammaQ: continued fraction did not converge for a=${a}, x=${x}`);
}

/** Regularized upper incomplete gamma Q(a, x) = Γ(a, x)/Γ(a), for a > 0, x ≥ 0. */
export function regularizedGammaQ(a: number, x: number): number {
  if (!(a > 0) || !(x >= 0)) throw new RangeError(`regularizedGammaQ: need a > 0 and x ≥ 0, got a=${a}, x=${x}`);
  if (x === 0) return 1;
  if (x === Infinity) return 0;
  if (x < a + 1) return 1 - regularizedGammaPSeries(a, x);
  return regularizedGammaQContinuedFraction(a, x);
}

/** Chi-square survival function P(χ²_df > x) = Q(df/2, x/2). */
export function chiSquareSf(x: number, df: number): number {
  if (!(df > 0)) throw new RangeError(`chiSquareSf: df must be positive, got ${df}`);
  if (Number.isNaN(x)) return NaN;
  if (x <= 0) return 1;
  return regularizedGammaQ(df / 2, x / 2);
}
