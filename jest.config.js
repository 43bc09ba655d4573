/**
 * Jest runs the TypeScript sources through SWC: ~0.8 s startup against ~2.9 s for ts-jest, because it does
 * not type-check — `npm test` runs `tsc --noEmit` first for that. ESM-only dependencies (jose, agenda) are
 * transformed to CommonJS like our own files.
 */
const esmOnly = ["jose", "agenda", "@agendajs"].join("|");
module.exports = {
  testEnvironment: "node",
  transform: { "^.+\\.(t|j)sx?$": ["@swc/jest", { jsc: { target: "es2022" }, module: { type: "commonjs" } }] },
  transformIgnorePatterns: [`/node_modules/(?!(${esmOnly})/)`],
  testMatch: ["<rootDir>/test/**/*.test.ts"],
  testTimeout: 30_000,
};
