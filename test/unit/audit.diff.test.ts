/** The audit diff: changed fields only, values as JSON, secrets redacted at any depth. */
import { diff, REDACTED } from "../../services/audit/store";

describe("diff", () => {
  it("lists only changed fields, comparing dates and objects by value (key order does not matter)", () => {
    const at = new Date("2026-01-01T00:00:00.000Z");
    const before = { id: "c1", name: "A", scheduledFor: at, goals: { a: 1, b: 2 }, tags: ["x"], updatedAt: new Date(1) };
    const after = { id: "c1", name: "B", scheduledFor: new Date(at.getTime()), goals: { b: 2, a: 1 }, tags: ["x", "y"], updatedAt: new Date(2) };
    expect(diff(before, after)).toEqual({ name: { from: "A", to: "B" }, tags: { from: ["x"], to: ["x", "y"] } });
  });

  it("has no `from` for a created row and no `to` for a deleted one, and skips empty fields and bookkeeping columns", () => {
    const row = { id: "c1", ownerId: "u", teamId: null, name: "A", description: null, budget: 0, createdAt: new Date() };
    expect(diff(undefined, row)).toEqual({ name: { to: "A" }, budget: { to: 0 } });
    expect(diff(row, undefined)).toEqual({ name: { from: "A" }, budget: { from: 0 } });
    expect(diff(row, { ...row, description: "now set" })).toEqual({ description: { from: null, to: "now set" } });
  });

  it("redacts secrets at any depth and URL userinfo, yet shows that a secret changed", () => {
    const actions = (secret: string) => [
      { type: "branch", ifTrue: [{ type: "webhook", url: "https://bot:pw@hooks.example/a?x=1", secret }], ifFalse: [] },
      { type: "webhook", url: "https://hooks.example/b", headers: { Authorization: "Bearer abc" } },
    ];
    const changes = diff({ actions: actions("one") }, { actions: actions("two") });
    const text = JSON.stringify(changes);
    expect(text).not.toMatch(/one|two|bot:pw|Bearer abc/);
    expect(changes.actions.to).toEqual([
      { type: "branch", ifTrue: [{ type: "webhook", url: `https://${REDACTED}@hooks.example/a?x=1`, secret: REDACTED }], ifFalse: [] },
      { type: "webhook", url: "https://hooks.example/b", headers: { Authorization: REDACTED } },
    ]);
    expect(diff({ apiKey: "a", accessToken: "t", password: null }, { apiKey: "b", accessToken: "t", password: "p" })).toEqual({
      apiKey: { from: REDACTED, to: REDACTED },
      password: { from: null, to: REDACTED },
    });
  });
});
