import { SignJWT } from "jose";
import { Agenda } from "agenda";
import { PostgresBackend } from "@agendajs/postgres-backend";
test("esm", async () => {
  const t = await new SignJWT({ a: 1 }).setProtectedHeader({ alg: "HS256" }).sign(new TextEncoder().encode("x".repeat(32)));
  expect(t.split(".").length).toBe(3);
  expect(typeof Agenda).toBe("function");
  expect(typeof PostgresBackend).toBe("function");
});
