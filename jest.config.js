/** Jest runs the TypeScript sources through SWC (no type-check; `tsc --noEmit` does that). */
const esmOnly = ["jose", "agenda", "@agendajs"].join("|");
module.exports = {
  testEnvironment: "node",
  transform: { "^.+\\.(t|j)sx?$": ["@swc/jest", { jsc: { target: "es2022" }, module: { type: "commonjs" } }] },
  transformIgnorePatterns: [`/node_modules/(?!(${esmOnly})/)`],
  testMatch: ["<rootDir>/test/**/*.test.ts"],
};
