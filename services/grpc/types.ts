/** The shapes of the route table (./routes.ts): what each RPC calls and the few hooks an RPC may need. */
import type { ProtoCodec } from "./codec";
import type { BrokerEvent } from "./event-hub";

export type Params = Record<string, unknown>;

export interface RouteTools {
  codec: ProtoCodec;
  /** Full name of the RPC's request message. */
  requestType: string;
}

/** Reshapes the converted request where the proto and the action's params truly differ. */
export type ParamsHook = (params: Params, tools: RouteTools) => Params;

/** A unary RPC: one call of `action` with the request's fields as params; its result is the response. */
export interface UnaryRoute {
  action: string;
  params?: ParamsHook;
  /** Reshapes the action's result where the response message differs (e.g. a bare list → `{items}`). */
  result?: (result: unknown) => unknown;
}

/**
 * How a server-streaming RPC follows broker events. The messages are in action form (plain JSON,
 * action enum values); the gateway converts them to the RPC's response type.
 */
export interface WatchSpec {
  /** Broker events that may concern a watched item; the gateway listens to all of them on every node. */
  events: readonly string[];
  /** The first message, from the route action's result (the current state). */
  first(result: unknown): Params;
  /**
   * The message for an event, or undefined when it concerns something else. Called as the event arrives,
   * so only relevant events queue. `last` ends the stream (OK) after the message.
   */
  next(event: BrokerEvent, params: Params, tools: RouteTools): { message: Params; last?: boolean } | undefined;
}

/**
 * A server-streaming RPC: `action` is called first with the request's fields (it checks access, so a
 * foreign id is NOT_FOUND before anything streams) and its result becomes the first message; then broker
 * events follow until the client cancels, a `last` message, or shutdown (UNAVAILABLE).
 */
export interface WatchRoute extends UnaryRoute {
  watch: WatchSpec;
}

/**
 * How a client-streaming RPC feeds an action: the messages are converted one by one and handed to the
 * action `batchSize` at a time as `{ [field]: [...] }`. Each batch is committed before the next is read,
 * so when the stream fails midway every batch before the failing one stays done (the client resends from
 * there; an idempotent action makes resending harmless).
 */
export interface IngestSpec<R = unknown> {
  /** Messages per action call (at most what the action's list param accepts). */
  batchSize: number;
  /** The action's list param; problems are named `<field>[n]` with n the message's place in the stream. */
  field: string;
  /** The answer of a stream that held no message. */
  empty: R;
  /** Combines the results so far with the next batch's result. */
  merge(sofar: R, next: R): R;
  /**
   * Turns a batch's error into the one the client gets (after its field paths were moved to stream
   * positions), where a stream should answer otherwise than the batch action does.
   */
  error?(err: unknown): unknown;
}

/**
 * A client-streaming RPC: the request messages go to `action` in batches (see IngestSpec); the merged
 * results, through `result` if given, answer once the client ends the stream.
 */
export interface IngestRoute extends UnaryRoute {
  ingest: IngestSpec<any>;
}

export type Route = UnaryRoute | WatchRoute | IngestRoute;

/** RPC path without the leading slash (`marketing.v1.CampaignService/GetCampaign`) → route. */
export type RouteTable = Readonly<Record<string, Route>>;

export function isWatchRoute(route: Route): route is WatchRoute {
  return "watch" in route;
}

export function isIngestRoute(route: Route): route is IngestRoute {
  return "ingest" in route;
}
