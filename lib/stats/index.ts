/**
 * Pure statistics for conversion-rate A/B tests (modelled on GrowthBook's gbstats).
 * Every function is a pure function of plain numbers; differences are variant − control.
 */
export type { TwoArmCounts } from "./validation";
export { zTestTwoProportions, waldInterval, sampleSizePerArm } from "./frequentist";
export type { ZTestResult, SampleSizeInput } from "./frequentist";
export { srmCheck } from "./srm";
export type { SrmResult } from "./srm";
export { holm, benjaminiHochberg } from "./corrections";
export { chanceToBeatControl } from "./bayesian";
export { sequentialTest } from "./sequential";
export type { SequentialOptions, SequentialResult } from "./sequential";
