/**
 * Plain JSON ⇄ google.protobuf.Struct / Value / ListValue as a gRPC client writes and reads them
 * (proto-loader's object form). Written independently of the gateway's codec so tests check the codec
 * against the wire format, not against itself.
 */
import type { Message } from "../../services/grpc/client";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export function struct(json: { [key: string]: Json }): Message {
  return { fields: Object.fromEntries(Object.entries(json).map(([k, v]) => [k, value(v)])) };
}

export function list(items: Json[]): Message {
  return { values: items.map(value) };
}

export function value(v: Json): Message {
  if (v === null) return { nullValue: "NULL_VALUE" };
  if (typeof v === "number") return { numberValue: v };
  if (typeof v === "string") return { stringValue: v };
  if (typeof v === "boolean") return { boolValue: v };
  if (Array.isArray(v)) return { listValue: list(v) };
  return { structValue: struct(v) };
}

/** A Struct as a client reads it → plain JSON. */
export function fromStruct(s: Message | undefined): { [key: string]: Json } {
  return Object.fromEntries(Object.entries(s?.fields ?? {}).map(([k, v]) => [k, fromValue(v as Message)]));
}

/** A ListValue as a client reads it → plain JSON. */
export function fromList(l: Message | undefined): Json[] {
  return ((l?.values ?? []) as Message[]).map(fromValue);
}

export function fromValue(v: Message): Json {
  if ("structValue" in v) return fromStruct(v.structValue);
  if ("listValue" in v) return fromList(v.listValue);
  if ("nullValue" in v) return null;
  return v.numberValue ?? v.stringValue ?? v.boolValue;
}
