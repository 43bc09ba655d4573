/** The criteria language: AST, field whitelist, parser, SQL compiler and in-memory evaluator. */
export * from "./ast";
export { FIELD_NAMES, resolveField } from "./fields";
export { parseCriteria } from "./parse";
export { compileCriteria } from "./sql";
export { evaluateCriteria, noActivityDays, type EvaluableFan } from "./evaluate";
