/**
 * The reliability suites (`npm run test:reliability`): long runs against real processes, kept out of the
 * default `npm test` by their `.rel.ts` suffix. Same SWC transform as jest.config.js.
 */
const base = require("./jest.config.js");
module.exports = { ...base, testMatch: ["<rootDir>/test/reliability/**/*.rel.ts"], testTimeout: 900_000 };
