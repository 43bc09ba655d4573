/**
 * REST gateway (moleculer-web): `/api/*` aliases generated from each action's `rest`, bearer-token
 * authentication, one JSON error shape, health, Prometheus metrics and the OpenAPI document.
 */
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Context, ServiceSchema } from "moleculer";
import ApiGateway, { type ApiSettingsSchema } from "moleculer-web";
import { bearerFrom, type AuthUser } from "../lib/auth";
import { Authenticator } from "../lib/authenticator";
import { UnauthorizedError } from "../lib/errors";
import { assertJsonObject, assertSafeJson } from "../lib/json-guard";
import { prometheusText } from "../lib/metrics";
import { buildOpenApi } from "../lib/openapi";
import { authenticateCharged, type RateLimiter } from "../lib/rate-limit";
import { runtimeOf } from "../lib/runtime";
import { toHttpError } from "./api/errors";
import { idempotencyKeyFromHeader } from "./api/idempotency";
import { chargeRequest } from "./api/rate-limit";

type Req = IncomingMessage & { body?: unknown; $ctx?: Context };
type Res = ServerResponse;

/**
 * Idle keep-alive connections stay open this long. Node's default (5 s) is shorter than the idle timeout of
 * typical load balancers and HTTP clients (60 s): a client sending on a connection just as the server
 * closes it gets a reset (21 ECONNRESET in a 60 s load run). Longer than the balancer's, as their docs ask.
 */
const KEEP_ALIVE_MS = 65_000;
/** On shutdown, connections still open this long after the server stopped listening are closed. */
const CLOSE_GRACE_MS = 1_000;

function sendJson(res: Res, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { "Content-Type": "application/json; charset=utf-8", ...headers });
  res.end(JSON.stringify(body));
}

const ApiService: ServiceSchema<ApiSettingsSchema> = {
  name: "api",
  mixins: [ApiGateway],

  settings: {
    // Filled from the runtime config in created().
    port: 3000,
    ip: "0.0.0.0",
    log4XXResponses: false,
    logRequest: null,
    logResponse: null,
    routes: [
      {
        path: "/",
        authentication: false,
        mappingPolicy: "restrict",
        bodyParsers: false,
        aliases: {
          "GET /health/live"(this: { broker: Context["broker"] }, _req: Req, res: Res) {
            sendJson(res, 200, { status: "ok", nodeID: this.broker.nodeID });
          },
          async "GET /health/ready"(this: { readiness(): Promise<Record<string, string>> }, _req: Req, res: Res) {
            const checks = await this.readiness();
            const ok = Object.values(checks).every((c) => c === "ok");
            sendJson(res, ok ? 200 : 503, { status: ok ? "ok" : "unavailable", checks });
          },
          "GET /metrics"(this: { broker: Context["broker"] }, _req: Req, res: Res) {
            res.writeHead(200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" });
            res.end(prometheusText(this.broker) ?? "");
          },
          "GET /api/openapi.json"(this: { broker: Context["broker"] }, _req: Req, res: Res) {
            sendJson(res, 200, buildOpenApi(this.broker));
          },
        },
      },
      {
        path: "/api",
        authentication: true,
        autoAliases: true,
        mappingPolicy: "restrict",
        mergeParams: true,
        bodyParsers: { json: { strict: false, limit: "1mb" } },
        onBeforeCall(_ctx: Context, _route: unknown, req: Req) {
          idempotencyKeyFromHeader(req);
        },
        use: [
          // moleculer-web resolves an OPTIONS request to the GET alias of its path and would run it; there is
          // no CORS here, so OPTIONS only says which methods the API has.
          function answerOptions(req: Req, res: Res, next: (err?: unknown) => void) {
            if (req.method !== "OPTIONS") return next();
            res.writeHead(204, { Allow: "GET, POST, PUT, PATCH, DELETE" });
            res.end();
          },
          function guardBody(req: Req, _res: Res, next: (err?: unknown) => void) {
            try {
              assertJsonObject(req.body);
              assertSafeJson(req.body);
              next();
            } catch (err) {
              next(err);
            }
          },
        ],
      },
    ],
    onError(this: { logger: Context["broker"]["logger"] }, req: Req, res: Res, err: unknown) {
      const http = toHttpError(err);
      if (http.status >= 500) this.logger.error(`${req.method} ${req.url} failed`, err);
      const headers: Record<string, string> = {};
      if (http.retryAfter !== undefined) headers["Retry-After"] = String(http.retryAfter);
      const requestId = req.$ctx?.requestID;
      if (requestId) headers["X-Request-Id"] = requestId;
      sendJson(res, http.status, { error: http.body }, headers);
    },
  },

  actions: {
    // The gateway's own entry action authenticates per route itself; the alias listing stays internal.
    // It is never retried: a retry re-ran the whole route on a request moleculer-web had already consumed
    // and rewritten (404 "Not found"), and the calls it makes are retried on their own within its timeout.
    rest: { permission: false, retryPolicy: { enabled: false } },
    listAliases: { permission: false, visibility: "protected", rest: null },
  },

  events: {
    // moleculer-web rebuilds auto-aliases 500 ms after a service appears; rebuild at once as well, so a
    // route that exists is never answered with 404 just because its service started a moment ago.
    "$services.changed"() {
      for (const route of this.routes as Array<{ opts: { autoAliases?: boolean } }>) {
        if (route.opts.autoAliases) this.regenerateAutoAliases(route);
      }
    },
  },

  methods: {
    /**
     * JSON with its Content-Length: moleculer-web leaves it out, so every answer went chunked and took
     * several writes; with the length Node sends headers and body in one (measured: bench/rest-vs-bare.ts).
     */
    encodeResponse(_req: Req, res: Res, data: unknown): string {
      const body = JSON.stringify(data);
      if (!res.headersSent) res.setHeader("Content-Length", Buffer.byteLength(body));
      return body;
    },

    /**
     * Authenticates, then charges the user's request budget (shared with the gRPC gateway). moleculer-web's
     * own `rateLimit` runs before authentication, where the user is not known yet, so it is not used.
     */
    async authenticate(ctx: Context, _route: unknown, req: Req, res: Res): Promise<AuthUser> {
      const limiter = this.rateLimiter as RateLimiter | undefined;
      // Shared with the gRPC gateway: verified claims, a team's role from its membership, the same budget.
      const authenticate = async () => {
        const token = bearerFrom(req.headers.authorization);
        if (!token) throw new UnauthorizedError();
        return this.authenticator.authenticate(token) as Promise<AuthUser>;
      };
      return authenticateCharged(authenticate, req.socket.remoteAddress, limiter && ((key) => chargeRequest(limiter, key, res)));
    },

    /** Database and transporter reachability, each "ok" or the reason it is not. */
    async readiness(): Promise<Record<string, string>> {
      const checks: Record<string, string> = {};
      const runtime = runtimeOf(this.broker);
      // A gateway-only node of a distributed deployment has no database of its own to check.
      const hasDatabase = Boolean(runtime.config.databaseUrl) || !runtime.config.natsUrl;
      if (hasDatabase) try {
        const database = await runtime.database();
        await database.ping();
        checks.database = "ok";
      } catch (err) {
        checks.database = (err as Error).message;
      }
      if (this.broker.transit) checks.transporter = this.broker.transit.connected ? "ok" : "disconnected";
      return checks;
    },
  },

  created() {
    const { config } = runtimeOf(this.broker);
    this.settings.port = config.port;
    this.settings.ip = config.host;
    const apiRoute = this.settings.routes!.find((r) => r.path === "/api")!;
    (apiRoute.bodyParsers as { json: { limit: string } }).json.limit = config.bodyLimit;
    this.authenticator = new Authenticator(this.broker, () => runtimeOf(this.broker).jwtSecret());
    this.rateLimiter = runtimeOf(this.broker).rateLimiter();
    const server = this.server as Server;
    server.keepAliveTimeout = KEEP_ALIVE_MS;
    server.headersTimeout = KEEP_ALIVE_MS + 1_000;
  },

  async started() {
    await (this.rateLimiter as RateLimiter | undefined)?.ready();
  },

  /**
   * Runs before moleculer-web's own `stopped` (a mixin's handler runs after the service's), which closes the
   * server and waits for every connection to end. Node's `close()` ends idle keep-alive connections, but not
   * one that is open and has not sent a request yet (pooling clients and balancers open them ahead): that
   * held shutdown until the headers timeout. Requests in flight have finished by now (the broker's context
   * tracking waits for them); idle connections are closed at once, any others after a short grace.
   */
  stopped() {
    const server = this.server as Server;
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS).unref();
  },

};

export default ApiService;
