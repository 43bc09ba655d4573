/**
 * Broker options for every process. Embedded mode (no NATS_URL): local transport, every service here.
 * Distributed mode: NATS transporter, services picked with SERVICES, nodes discover each other.
 */
import os from "node:os";
import type { BrokerOptions } from "moleculer";
import { cacheKey } from "./lib/cache-keys";
import type { Config } from "./lib/config";
import { ErrorRegenerator, isRetryable, isSafeToRetry } from "./lib/errors";
import { InProcessPrometheusReporter } from "./lib/metrics";
import { middlewareOptions } from "./lib/middlewares";
import { NatsTransporter } from "./lib/nats-transporter";
import { ApiValidator } from "./lib/validator";

export function brokerOptions(config: Config): BrokerOptions {
  return {
    namespace: config.namespace,
    nodeID: config.nodeId ?? `${os.hostname()}-${process.pid}`,
    // Reconnects forever, every second (plus jitter) while NATS is away; a silent server (no FIN, e.g. a network
    // partition) is noticed after two missed pings 10 s apart. Connection state: lib/nats-transporter.ts.
    transporter: config.natsUrl
      ? new NatsTransporter({ url: config.natsUrl, maxReconnectAttempts: -1, reconnectTimeWait: 1_000, pingInterval: 10_000, maxPingOut: 2 })
      : undefined,
    serializer: "JSON",
    logger: { type: "Console", options: { level: config.logLevel, formatter: "short", colors: process.stdout.isTTY } },
    logLevel: config.logLevel,
    requestTimeout: config.requestTimeout,
    retryPolicy: {
      enabled: true,
      retries: 3,
      delay: 100,
      maxDelay: 1_000,
      factor: 2,
      // Client errors (4xx) are never retried; only errors marked retryable, and not timeouts (lib/errors.ts).
      check: (err: Error) => isSafeToRetry(err),
    },
    circuitBreaker: {
      enabled: true,
      threshold: 0.5,
      minRequestCount: 20,
      windowTime: 60,
      halfOpenTime: 10_000,
      // Only infrastructure failures open the breaker, not a user's bad input.
      check: (err: Error) => isRetryable(err),
    },
    // The memory cacher hands out the stored object itself (no clone per hit): cached results are read-only.
    // Keys: lib/cache-keys.ts (unambiguous, and in the shape the services' cleaning patterns expect).
    cacher: config.redisUrl
      ? // The namespace is in the prefix: deployments (or test runs) sharing one Redis neither read nor clean each other's entries.
        { type: "Redis", options: { prefix: `mktg-${config.namespace}`, ttl: 60, keygen: cacheKey as never, redis: { url: config.redisUrl } as never } }
      : { type: "Memory", options: { ttl: 60, clone: false, keygen: cacheKey as never } },
    validator: new ApiValidator() as never,
    errorRegenerator: new ErrorRegenerator(),
    metrics: {
      enabled: true,
      // The REST gateway serves these at /metrics; no extra HTTP server per node.
      reporter: [new InProcessPrometheusReporter() as never],
    },
    // Access and data-error middlewares, and Moleculer's own with the Cacher innermost: a cached answer
    // only goes to a call that passed validation and the access check (see lib/middlewares.ts).
    ...middlewareOptions(),
    // Shutdown waits for in-flight requests; the broker installs its own SIGINT/SIGTERM handlers.
    tracking: { enabled: true, shutdownTimeout: 10_000 },
    contextParamsCloning: false,
  };
}
