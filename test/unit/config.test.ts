/** Reading configuration from the environment: defaults, durations, and clear errors for bad values. */
import { loadConfig } from "../../lib/config";

describe("loadConfig", () => {
  it("works with no environment at all", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ port: 3000, grpcPort: 50051, jobsProcessEveryMs: 1_000, requestTimeout: 10_000 });
    expect(config.databaseUrl).toBeUndefined();
  });

  it.each([
    ["250", 250],
    ["250ms", 250],
    ["100 milliseconds", 100], // Agenda's own parser reads this as 100,000 ms
    ["500 ms", 500], // ...and this as its 5 s default
    ["1 second", 1_000],
    ["2s", 2_000],
    ["1.5 seconds", 1_500],
    ["3 sec", 3_000],
    ["2 minutes", 120_000],
    ["1 min", 60_000],
  ])("reads JOBS_PROCESS_EVERY=%j as %d ms", (value, ms) => {
    expect(loadConfig({ JOBS_PROCESS_EVERY: value }).jobsProcessEveryMs).toBe(ms);
  });

  it.each(["soon", "0", "1 fortnight", "-5 s", "constructor", "5 s extra"])("refuses JOBS_PROCESS_EVERY=%j naming the variable", (value) => {
    expect(() => loadConfig({ JOBS_PROCESS_EVERY: value })).toThrow(/JOBS_PROCESS_EVERY must be a duration/);
  });

  it("refuses a non-integer port and an unknown log level", () => {
    expect(() => loadConfig({ PORT: "80a" })).toThrow(/PORT must be an integer/);
    expect(() => loadConfig({ LOG_LEVEL: "loud" })).toThrow(/LOG_LEVEL must be one of/);
  });
});
