/**
 * For bench/rest-vs-bare.ts: embedded mode's broker and services without moleculer-web. A plain Node http
 * handler does what the gateway does for GET /api/campaigns/:id: authenticate and charge the budget
 * (`authenticateCharged`, as both gateways do), one broker call with the user (validation, access check and
 * read cache run as usual), JSON with Content-Length. It tells how much of the gap to the bare server is
 * moleculer-web and how much is the call itself.
 * Usage: tsx bench/direct-gateway.ts <port> <dataDir>   (prints "mode: direct <campaignId>" when listening)
 */
import http from "node:http";
import { Errors } from "moleculer";
import { bearerFrom, type AuthUser } from "../lib/auth";
import { Authenticator } from "../lib/authenticator";
import { createBroker } from "../lib/broker";
import { loadConfig } from "../lib/config";
import { UnauthorizedError } from "../lib/errors";
import { authenticateCharged, type RateLimiter } from "../lib/rate-limit";
import { runtimeOf } from "../lib/runtime";
import { SERVICE_NAMES } from "../services";
import { toHttpError } from "../services/api/errors";
import { chargeRequest } from "../services/api/rate-limit";

const [port, dataDir] = process.argv.slice(2);
const services = SERVICE_NAMES.filter((name) => name !== "api" && name !== "grpc").join(",");
const config = loadConfig({ ...process.env, DATA_DIR: dataDir, SERVICES: services, LOG_LEVEL: "error" });
const broker = createBroker(config, process.env.NO_METRICS ? { metrics: false } : {});
const route = /^\/api\/campaigns\/([^/?]+)$/;

async function main() {
  await broker.start();
  const runtime = runtimeOf(broker);
  const limiter = runtime.rateLimiter() as RateLimiter | undefined;
  await limiter?.ready();
  const authenticator = new Authenticator(broker, () => runtime.jwtSecret());
  const owner = { meta: { user: { id: "bench-user", role: "owner", teamId: null } } };
  const created = await broker.call<{ id: string }, object>(
    "campaigns.create",
    { name: "Summer PPV", type: "ppv", platforms: ["onlyfans"], content: { title: "Hi" } },
    owner,
  );

  http
    .createServer(async (req, res) => {
      const m = req.method === "GET" ? route.exec(req.url ?? "") : null;
      try {
        if (!m) throw new Errors.MoleculerClientError("Not found", 404, "NOT_FOUND");
        const user = await authenticateCharged(
          async () => {
            const token = bearerFrom(req.headers.authorization);
            if (!token) throw new UnauthorizedError();
            return (await authenticator.authenticate(token)) as AuthUser;
          },
          req.socket.remoteAddress,
          limiter && ((key) => chargeRequest(limiter, key, res)),
        );
        const body = JSON.stringify(await broker.call("campaigns.get", { id: m[1] }, { meta: { user } }));
        res.writeHead(200, { "Content-Type": "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(body) });
        res.end(body);
      } catch (err) {
        const { status, body } = toHttpError(err);
        res.writeHead(status, { "Content-Type": "application/json; charset=utf-8" });
        res.end(JSON.stringify({ error: body }));
      }
    })
    .listen(Number(port), "127.0.0.1", () => console.log(`mode: direct ${created.id}`));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
