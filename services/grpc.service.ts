/**
 * gRPC gateway (@grpc/grpc-js + proto-loader): serves the RPCs of proto/marketing/v1/ by calling the
 * actions the route table (services/grpc/routes.ts) names, with bearer-token auth, deadlines as call
 * timeouts, gRPC statuses for errors, health checking and server reflection.
 */
import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { Authenticator } from "../lib/authenticator";
import { runtimeOf } from "../lib/runtime";
import { MetadataAuthenticator } from "./grpc/auth";
import { GrpcGateway } from "./grpc/gateway";
import { loadProtos } from "./grpc/proto";
import { FIELD_ALIASES, PROTO_FILES, ROUTES, watchedEvents } from "./grpc/routes";

/** How long stopping waits for in-flight unary calls before cutting them. */
const SHUTDOWN_GRACE_MS = 5_000;

interface GrpcVars {
  gateway: GrpcGateway;
  /** The port actually bound: the ephemeral one when the config's grpcPort is 0 (tests). */
  boundPort: number;
}

/** The running service, as tests and tools see it (`broker.getLocalService("grpc")`). */
export type GrpcServiceInstance = Service & GrpcVars;

/**
 * Handlers that pass the events streaming routes follow to the gateway. Each node gets its own event
 * group: with the default group (the service name) `emit` would hand an event to one gateway node only,
 * and watchers on the others would miss it.
 */
function watchEventHandlers(group: string): NonNullable<ServiceSchema["events"]> {
  const handler = function (this: GrpcServiceInstance, ctx: Context) {
    this.gateway.publish({ name: ctx.eventName!, payload: ctx.params });
  };
  return Object.fromEntries(watchedEvents(ROUTES).map((name) => [name, { group, handler }]));
}

type GrpcSchema = ServiceSchema<ServiceSettingSchema, Record<string, never>, GrpcVars> & {
  merged(this: Service, schema: ServiceSchema): void;
};

const GrpcService: GrpcSchema = {
  name: "grpc",

  // Moleculer's hook between mixin merging and event registration: the only point where the node id is
  // known and the event definitions can still change.
  merged(schema) {
    schema.events = watchEventHandlers(`grpc-watch@${this.broker.nodeID}`);
  },

  created() {
    const runtime = runtimeOf(this.broker);
    const authenticator = new MetadataAuthenticator(new Authenticator(this.broker, () => runtime.jwtSecret()));
    this.gateway = new GrpcGateway({
      broker: this.broker,
      logger: this.logger,
      definition: loadProtos(PROTO_FILES),
      routes: ROUTES,
      aliases: FIELD_ALIASES,
      authenticate: (metadata) => authenticator.authenticate(metadata),
      rateLimiter: runtime.rateLimiter(),
      requestTimeout: runtime.config.requestTimeout,
    });
  },

  async started() {
    const runtime = runtimeOf(this.broker);
    const { config } = runtime;
    await runtime.rateLimiter()?.ready();
    this.boundPort = await this.gateway.listen(config.host, config.grpcPort);
    this.logger.info(`gRPC listening on ${config.host}:${this.boundPort} (${this.gateway.serviceNames.join(", ")})`);
  },

  async stopped() {
    await this.gateway.stop(SHUTDOWN_GRACE_MS);
  },
};

// The registry (services/index.ts) holds untyped schemas; `this` is typed above.
export default GrpcService as unknown as ServiceSchema;
