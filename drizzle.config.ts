/** drizzle-kit reads every service's schema module and writes SQL migrations into ./migrations. */
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: ["./services/*/schema.ts"],
  out: "./migrations",
});
