/**
 * The gRPC server behind the `grpc` service: one handler per row of the route table, bearer-token
 * authentication, deadline → call timeout, descriptor-driven conversion, error → status mapping, health
 * checking and server reflection. It reaches other services only through broker.call and the broker
 * events it is handed, so it works on a node of its own.
 */
import * as grpc from "@grpc/grpc-js";
import { loadSync, type MethodDefinition, type PackageDefinition, type ServiceDefinition } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import { HealthImplementation, protoPath as healthProtoPath } from "grpc-health-check";
import { Errors, type CallingOptions, type Logger, type ServiceBroker } from "moleculer";
import type { AuthUser } from "../../lib/auth";
import { ServiceUnavailableError } from "../../lib/errors";
import { assertSafeJson } from "../../lib/json-guard";
import { authenticateCharged, grpcPeerAddress, type RateLimiter } from "../../lib/rate-limit";
import { ProtoCodec } from "./codec";
import { callTimeout, remainingMs } from "./deadline";
import { EventHub, type BrokerEvent } from "./event-hub";
import { toGrpcStatus } from "./status";
import { isIngestRoute, isWatchRoute, type IngestRoute, type IngestSpec, type Params, type Route, type RouteTable, type RouteTools, type WatchRoute } from "./types";

export interface GatewayOptions {
  broker: ServiceBroker;
  logger: Logger;
  definition: PackageDefinition;
  routes: RouteTable;
  /** See FIELD_ALIASES in ./routes.ts. */
  aliases?: Readonly<Record<string, string>>;
  authenticate(metadata: grpc.Metadata): Promise<AuthUser>;
  /** The per-user request budget, shared with the REST gateway; each call is charged once. */
  rateLimiter?: RateLimiter;
  /** Upper bound of every call's timeout: the broker's request timeout (0: none). */
  requestTimeout: number;
}

/** One routed RPC, resolved at start. */
interface Rpc {
  path: string;
  route: Route;
  requestType: string;
  responseType: string;
  tools: RouteTools;
}

/** What a request becomes once it is authenticated and converted. */
interface Prepared {
  params: Params;
  options: CallingOptions;
}

type Message = Record<string, unknown>;
type UnaryCall = grpc.ServerUnaryCall<Message, Message>;
type StreamCall = grpc.ServerWritableStream<Message, Message>;
type IngestCall = grpc.ServerReadableStream<Message, Message>;

/**
 * Stands in for a request protobufjs could not decode (truncated bytes, nesting beyond its limit), so the
 * handler answers INVALID_ARGUMENT: grpc-js itself would answer INTERNAL, blaming the server.
 */
class UndecodableRequest {
  constructor(readonly reason: string) {}
}

export class GrpcGateway {
  readonly server = new grpc.Server();
  readonly hub = new EventHub();
  readonly codec: ProtoCodec;
  /** Fully qualified names of the gRPC services served (health reports each). */
  readonly serviceNames: string[];
  private readonly health: HealthImplementation;

  constructor(private readonly opts: GatewayOptions) {
    this.codec = new ProtoCodec(opts.definition, opts.aliases);
    this.serviceNames = servicesOf(opts.routes);
    const rpcs = this.resolveRoutes();
    for (const name of this.serviceNames) this.addService(name, rpcs);
    this.health = new HealthImplementation(Object.fromEntries(["", ...this.serviceNames].map((name) => [name, "SERVING"])));
    this.health.addToServer(this.server);
    // Reflection describes the health service too, so tools such as grpcurl can call it by name.
    new ReflectionService({ ...opts.definition, ...loadSync(healthProtoPath) }).addToServer(this.server);
  }

  /** Binds and serves; resolves to the bound port (the ephemeral one when `port` is 0). */
  listen(host: string, port: number): Promise<number> {
    const address = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
    return new Promise((resolve, reject) => {
      this.server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound)));
    });
  }

  /** Hands a broker event to the streams that follow it. */
  publish(event: BrokerEvent): void {
    this.hub.publish(event);
  }

  /**
   * Reports NOT_SERVING, ends open streams with UNAVAILABLE (clients reconnect elsewhere), lets unary
   * calls finish, and cuts whatever is still open after `graceMs`.
   */
  stop(graceMs: number): Promise<void> {
    for (const name of ["", ...this.serviceNames]) this.health.setStatus(name, "NOT_SERVING");
    this.hub.close(new ServiceUnavailableError("The server is shutting down; reconnect"));
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Every RPC of a routed service needs a row and every row an RPC: drift fails the start, not a call. */
  private resolveRoutes(): Map<string, Rpc> {
    const rpcs = new Map<string, Rpc>();
    for (const name of this.serviceNames) {
      const service = this.opts.definition[name];
      if (!service || "format" in service) throw new Error(`gRPC route table names ${name}, which no loaded .proto defines as a service`);
      const pkg = name.slice(0, name.lastIndexOf("."));
      for (const method of Object.values(service as ServiceDefinition)) {
        const key = method.path.slice(1);
        const route = this.opts.routes[key];
        if (!route) throw new Error(`gRPC method ${key} has no row in the route table`);
        checkStreaming(key, method, route);
        const requestType = this.codec.messageNameOf(method.requestType, pkg);
        const responseType = this.codec.messageNameOf(method.responseType, pkg);
        rpcs.set(key, { path: method.path, route, requestType, responseType, tools: { codec: this.codec, requestType } });
      }
    }
    const unknown = Object.keys(this.opts.routes).filter((key) => !rpcs.has(key));
    if (unknown.length) throw new Error(`gRPC route table names methods no .proto defines: ${unknown.join(", ")}`);
    return rpcs;
  }

  private addService(name: string, rpcs: Map<string, Rpc>): void {
    const service = this.opts.definition[name] as ServiceDefinition;
    const definition: ServiceDefinition = {};
    const implementation: grpc.UntypedServiceImplementation = {};
    for (const [methodName, method] of Object.entries(service)) {
      const rpc = rpcs.get(method.path.slice(1))!;
      definition[methodName] = { ...method, requestDeserialize: tolerant(method.requestDeserialize) };
      implementation[methodName] = isWatchRoute(rpc.route)
        ? this.streamHandler(rpc, rpc.route)
        : isIngestRoute(rpc.route)
          ? this.ingestHandler(rpc, rpc.route)
          : this.unaryHandler(rpc);
    }
    this.server.addService(definition, implementation);
  }

  private unaryHandler(rpc: Rpc): grpc.handleUnaryCall<Message, Message> {
    return (call, callback) => {
      this.serveUnary(call, rpc).then(
        (response) => callback(null, response),
        (err) => callback(this.toServiceError(err, rpc)),
      );
    };
  }

  private async serveUnary(call: UnaryCall, rpc: Rpc): Promise<Message> {
    const { params, options } = await this.prepare(call, rpc);
    const result = await this.opts.broker.call(rpc.route.action, params, options);
    const shaped = rpc.route.result ? rpc.route.result(result) : result;
    return this.codec.toMessage(rpc.responseType, shaped as Message);
  }

  private streamHandler(rpc: Rpc, route: WatchRoute): grpc.handleServerStreamingCall<Message, Message> {
    return (call) => {
      this.serveWatch(call, rpc, route).catch((err) => {
        // A client that went away gets nothing more; anyone else learns why the stream ended.
        if (isOpen(call)) call.emit("error", this.toServiceError(err, rpc));
      });
    };
  }

  private async serveWatch(call: StreamCall, rpc: Rpc, route: WatchRoute): Promise<void> {
    const { params, options } = await this.prepare(call, rpc);
    // Subscribed before the current state is read, so no change in between is missed.
    const subscription = this.hub.subscribe(route.watch.events, (event) => route.watch.next(event, params, rpc.tools));
    const ended = () => subscription.fail(new Error("the call ended"));
    call.once("cancelled", ended);
    call.once("close", ended);
    try {
      const current = await this.opts.broker.call(route.action, params, options);
      await write(call, this.codec.toMessage(rpc.responseType, route.watch.first(current)));
      for await (const { message, last } of subscription) {
        await write(call, this.codec.toMessage(rpc.responseType, message));
        if (last) break;
      }
      if (isOpen(call)) call.end();
    } finally {
      subscription.close();
      call.off("cancelled", ended);
      call.off("close", ended);
    }
  }

  private ingestHandler(rpc: Rpc, route: IngestRoute): grpc.handleClientStreamingCall<Message, Message> {
    return (call, callback) => {
      this.serveIngest(call, rpc, route).then(
        (response) => callback(null, response),
        // A cancelled call (by the client or its deadline) already has its status.
        (err) => call.cancelled || callback(this.toServiceError(err, rpc)),
      );
    };
  }

  /**
   * Reads the stream, calling the action once per full batch (and once for the rest at the end). The next
   * message is read only after the batch before it committed: the client's writes wait meanwhile (flow
   * control), so the server holds about one batch in memory whatever the stream's length.
   */
  private async serveIngest(call: IngestCall, rpc: Rpc, route: IngestRoute): Promise<Message> {
    const { ingest } = route;
    const user = await this.authenticate(call);
    let result = ingest.empty;
    let batch: Params[] = [];
    // Stream position of the batch's first message.
    let offset = 0;
    const commit = async () => {
      // A cancel (by the client or its deadline) fails the reading loop (premature close), so a partial
      // batch is never stored as if the stream had ended; this also stops a call cancelled while the
      // previous batch was being stored.
      if (call.cancelled) throw new Error("the call was cancelled");
      // The deadline is measured again for every call: a long stream leaves later batches less time.
      const options = this.callOptions(call, rpc, user);
      try {
        result = ingest.merge(result, await this.opts.broker.call(route.action, { [ingest.field]: batch }, options));
      } catch (err) {
        const located = atStreamPositions(err, ingest, offset);
        throw ingest.error ? ingest.error(located) : located;
      }
      offset += batch.length;
      batch = [];
    };
    for await (const message of call) {
      batch.push(this.requestParams(rpc, message, `${ingest.field}[${offset + batch.length}]`));
      if (batch.length >= ingest.batchSize) await commit();
    }
    if (batch.length) await commit();
    const shaped = route.result ? route.result(result) : result;
    return this.codec.toMessage(rpc.responseType, shaped as Message);
  }

  /** Authenticates, turns the deadline into a timeout and the request into the action's params. */
  private async prepare(call: UnaryCall | StreamCall, rpc: Rpc): Promise<Prepared> {
    const user = await this.authenticate(call);
    const options = this.callOptions(call, rpc, user);
    return { params: this.requestParams(rpc, call.request), options };
  }

  /**
   * The caller, whose request budget this call is charged to (RESOURCE_EXHAUSTED with `retry-after` when
   * it is spent); a caller without a valid token is charged by address, as on REST.
   */
  private async authenticate(call: UnaryCall | StreamCall | IngestCall): Promise<AuthUser> {
    const limiter = this.opts.rateLimiter;
    return authenticateCharged(() => this.opts.authenticate(call.metadata), grpcPeerAddress(call.getPeer()), limiter && ((key) => limiter.enforce(key)));
  }

  /**
   * The broker call's options: the caller, what is left of the deadline as its timeout, and the caller's
   * `x-request-id` metadata as the request id (as REST takes the header; audit records carry it).
   */
  private callOptions(call: UnaryCall | StreamCall | IngestCall, rpc: Rpc, user: AuthUser): CallingOptions {
    const remaining = remainingMs(call.getDeadline());
    if (remaining <= 0) throw new Errors.RequestTimeoutError({ action: rpc.route.action, nodeID: this.opts.broker.nodeID });
    const [requestId] = call.metadata.get("x-request-id");
    const requestID = typeof requestId === "string" && requestId !== "" ? requestId.slice(0, 200) : undefined;
    return { meta: { user }, timeout: callTimeout(remaining, this.opts.requestTimeout), ...(requestID ? { requestID } : {}) };
  }

  /**
   * A request message → the action's params. `at` names a message of a request stream (`events[7]`), so
   * its problems say which message they are about.
   */
  private requestParams(rpc: Rpc, request: Message | UndecodableRequest, at = ""): Params {
    if (request instanceof UndecodableRequest) {
      throw new Errors.MoleculerClientError(`The ${at ? `message ${at}` : "request message"} could not be decoded: ${request.reason}`, 400, "MALFORMED_MESSAGE");
    }
    const path = (key: string) => (at ? `${at}.${key}` : key);
    let params: Params;
    try {
      params = this.codec.toParams(rpc.requestType, request);
    } catch (err) {
      throw at ? withFieldPaths(err, path) : err;
    }
    // Struct and map values are client JSON: refuse prototype keys and deep nesting as REST does.
    for (const [key, value] of Object.entries(params)) assertSafeJson(value, path(key));
    if (rpc.route.params) params = rpc.route.params(params, rpc.tools);
    return params;
  }

  private toServiceError(err: unknown, rpc: Rpc): Partial<grpc.StatusObject> {
    const status = toGrpcStatus(err);
    if (status.internal) this.opts.logger.error(`${rpc.path} failed`, err);
    else if (status.code === grpc.status.UNAVAILABLE) this.opts.logger.warn(`${rpc.path} unavailable: ${(err as Error).message}`);
    const metadata = new grpc.Metadata();
    for (const [key, value] of Object.entries(status.trailers)) metadata.set(key, value);
    return { code: status.code, details: status.details, metadata };
  }
}

/** The gRPC services the route table serves (`marketing.v1.CampaignService`). */
function servicesOf(routes: RouteTable): string[] {
  return [...new Set(Object.keys(routes).map((key) => key.slice(0, key.indexOf("/"))))];
}

/**
 * Unary rows for unary RPCs, watch rows for server streaming, ingest rows for client streaming; streams
 * both ways have no route kind.
 */
function checkStreaming(key: string, method: MethodDefinition<object, object>, route: Route): void {
  if (method.requestStream && method.responseStream) throw new Error(`gRPC method ${key} streams both ways, which the gateway does not route`);
  if (method.requestStream !== isIngestRoute(route)) {
    throw new Error(`gRPC method ${key} ${method.requestStream ? "streams requests: its row needs `ingest`" : "does not stream requests: its row must not have `ingest`"}`);
  }
  if (method.responseStream !== isWatchRoute(route)) {
    throw new Error(`gRPC method ${key} ${method.responseStream ? "streams responses: its row needs `watch`" : "is unary: its row must not have `watch`"}`);
  }
}

/** Rewrites the `field` of each problem an error lists (validation errors: `data` = `[{field, message}]`). */
function withFieldPaths(err: unknown, rewrite: (field: string) => string): unknown {
  const data = err instanceof Errors.MoleculerError ? (err.data as unknown) : undefined;
  if (Array.isArray(data)) {
    for (const problem of data as Array<{ field?: unknown }>) if (typeof problem?.field === "string") problem.field = rewrite(problem.field);
  }
  return err;
}

/**
 * A batch's problems name its messages by their place in the batch (`events[3]`); the client knows their
 * place in the stream (`events[1003]`). Field paths and the messages quoting them move by `offset`.
 */
function atStreamPositions(err: unknown, ingest: IngestSpec, offset: number): unknown {
  if (!offset) return err;
  const pattern = new RegExp(`(^|\\W)${ingest.field.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\[(\\d+)\\]`, "g");
  const move = (text: string) => text.replace(pattern, (_all, before: string, i: string) => `${before}${ingest.field}[${offset + Number(i)}]`);
  withFieldPaths(err, move);
  const data = (err as Errors.MoleculerError).data as unknown;
  if (Array.isArray(data)) for (const problem of data as Array<{ message?: unknown }>) if (typeof problem?.message === "string") problem.message = move(problem.message);
  return err;
}

function tolerant(deserialize: (bytes: Buffer) => object): (bytes: Buffer) => object {
  return (bytes) => {
    try {
      return deserialize(bytes);
    } catch (err) {
      return new UndecodableRequest((err as Error).message);
    }
  };
}

function isOpen(call: StreamCall): boolean {
  return !call.cancelled && !call.destroyed && !call.writableEnded;
}

/** Writes one message, waiting while the client reads slowly; throws once the call is over. */
async function write(call: StreamCall, message: Message): Promise<void> {
  if (!isOpen(call)) throw new Error("the call ended");
  if (call.write(message)) return;
  await new Promise<void>((resolve) => {
    const done = () => {
      call.off("drain", done);
      call.off("close", done);
      resolve();
    };
    call.on("drain", done);
    call.on("close", done);
  });
}
