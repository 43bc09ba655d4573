/**
 * The runner: `npm start`. With no environment it is embedded mode (every service, PGlite in ./data);
 * with NATS_URL / DATABASE_URL / SERVICES it is one node of a distributed deployment.
 */
import { createBroker } from "../lib/broker";
import { loadConfig } from "../lib/config";
import { runtimeOf } from "../lib/runtime";

async function main() {
  const config = loadConfig();
  const broker = createBroker(config);
  await broker.start();
  const hosted = broker.services.map((s) => s.name);
  const runtime = runtimeOf(broker);
  const mode = config.natsUrl ? `distributed (NATS ${config.natsUrl})` : "embedded";
  const lines = [`mode: ${mode}; services: ${hosted.join(", ")}`];
  if (hosted.includes("api")) lines.push(`REST listening on http://localhost:${config.port}/api (OpenAPI: /api/openapi.json)`);
  if (hosted.includes("grpc")) lines.push(`gRPC listening on localhost:${config.grpcPort}`);
  lines.push(config.databaseUrl ? "database: PostgreSQL (DATABASE_URL)" : `database: PGlite in ${config.dataDir}`);
  if (!config.jwtSecret && (hosted.includes("api") || hosted.includes("grpc"))) {
    runtime.jwtSecret();
    lines.push(`dev JWT secret generated in ${config.dataDir}/dev-jwt-secret; get a token with: npm run token -- --user <id>`);
  }
  console.log(lines.join("\n"));
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
