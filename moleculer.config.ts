/**
 * Broker options for every process. Embedded mode (no NATS_URL): local transport, every service here.
 * Distributed mode: NATS transporter, services picked with SERVICES, nodes discover each other.
 */
import os from "node:os";
import type { BrokerOptions } from "moleculer";
import { AccessMiddleware } from "./lib/access";
import { DataErrorMiddleware } from "./lib/data-errors";
import type { Config } from "./lib/config";
import { ErrorRegenerator, isRetryable } from "./lib/errors";
import { InProcessPrometheusReporter } from "./lib/metrics";
import { ApiValidator } from "./lib/validator";

export function brokerOptions(config: Config): BrokerOptions {
  return {
    namespace: config.namespace,
    nodeID: config.nodeId ?? `${os.hostname()}-${process.pid}`,
    transporter: config.natsUrl ? { type: "NATS", options: { url: config.natsUrl, maxReconnectAttempts: -1 } } : undefined,
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
      // Client errors (4xx) are never retried; only errors marked retryable.
      check: (err: Error) => isRetryable(err),
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
    cacher: config.redisUrl
      ? { type: "Redis", options: { prefix: "mktg", ttl: 60, redis: { url: config.redisUrl } as never } }
      : { type: "Memory", options: { ttl: 60, clone: false } },
    validator: new ApiValidator() as never,
    errorRegenerator: new ErrorRegenerator(),
    metrics: {
      enabled: true,
      // The REST gateway serves these at /metrics; no extra HTTP server per node.
      reporter: [new InProcessPrometheusReporter() as never],
    },
    middlewares: [AccessMiddleware, DataErrorMiddleware],
    // Shutdown waits for in-flight requests; the broker installs its own SIGINT/SIGTERM handlers.
    tracking: { enabled: true, shutdownTimeout: 10_000 },
    contextParamsCloning: false,
  };
}
