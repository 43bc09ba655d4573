/**
 * The rules a new test's design must meet beyond what the params schema checks: exactly one control,
 * unique variant names, and a traffic split over exactly those names summing to 100. Violations are 422s
 * naming the offending field path.
 */
import { UnprocessableError, type FieldProblem } from "../../lib/errors";
import type { NewVariant } from "./store";

export interface VariantInput {
  name: string;
  isControl: boolean;
  content: Record<string, unknown>;
}

/** Rounding slack when the split is given with decimals (33.33 + 33.33 + 33.34). */
const SPLIT_TOLERANCE = 1e-6;

export function designProblems(variants: readonly VariantInput[], split: Record<string, number> | undefined): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const controls = variants.filter((v) => v.isControl).length;
  if (controls !== 1) {
    problems.push({ field: "variants", type: "control", message: `Exactly one variant must be the control; ${controls} are.` });
  }
  const seen = new Set<string>();
  variants.forEach((v, i) => {
    if (seen.has(v.name)) problems.push({ field: `variants[${i}].name`, type: "unique", message: `The variant name "${v.name}" is used twice.` });
    seen.add(v.name);
  });
  if (!split) return problems;
  for (const key of Object.keys(split)) {
    if (!seen.has(key)) problems.push({ field: `trafficSplit.${key}`, type: "unknownVariant", message: `No variant is named "${key}".` });
  }
  for (const name of seen) {
    if (!(name in split)) problems.push({ field: `trafficSplit.${name}`, type: "required", message: `The split has no share for "${name}".` });
  }
  const total = Object.values(split).reduce((sum, share) => sum + share, 0);
  if (Math.abs(total - 100) > SPLIT_TOLERANCE) {
    problems.push({ field: "trafficSplit", type: "sum", message: `The shares must sum to 100; they sum to ${total}.` });
  }
  return problems;
}

/** Variants with their share (an equal split when none is given); 422 when the design breaks a rule. */
export function variantsWithShares(variants: readonly VariantInput[], split: Record<string, number> | undefined): NewVariant[] {
  const problems = designProblems(variants, split);
  if (problems.length) throw new UnprocessableError("The A/B test design is not valid", problems);
  return variants.map((v) => ({ ...v, weight: split ? split[v.name] : 100 / variants.length }));
}
