/**
 * Malformed gRPC messages for every routed RPC, sent through a raw grpc-js client with identity
 * serializers so the bytes reach the gateway exactly as generated: random bytes, wire types that do not
 * match the field, lengths past the end, invalid UTF-8 in strings, unknown fields, oversized messages.
 */
import crypto from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import { ROUTES } from "../../../services/grpc/routes";
import { isWatchRoute } from "../../../services/grpc/types";

export interface GrpcCase {
  category: string;
  path: string;
  message: Buffer;
  streaming: boolean;
  authorized: boolean;
}

export interface GrpcOutcome {
  case: GrpcCase;
  code: grpc.status;
  details: string;
}

/** A deterministic byte source, so a failing message can be regenerated from its index. */
function bytes(seed: number, length: number): Buffer {
  return crypto.createHash("sha512").update(`grpc-hostile-${seed}`).digest().subarray(0, length);
}

function tag(field: number, wireType: number): number[] {
  return varint((field << 3) | wireType);
}

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

/** Messages whose structure is broken for any message type. */
function structural(): Array<[string, Buffer]> {
  const cases: Array<[string, Buffer]> = [];
  for (let field = 1; field <= 6; field++) {
    cases.push(["wrong-wire-type", Buffer.from([...tag(field, 0), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])]);
    cases.push(["wrong-wire-type", Buffer.from([...tag(field, 1), 1, 2, 3, 4, 5, 6, 7, 8])]);
    cases.push(["wrong-wire-type", Buffer.from([...tag(field, 5), 0, 0, 0x80, 0x7f])]);
    cases.push(["bad-utf8", Buffer.from([...tag(field, 2), 4, 0xff, 0xfe, 0xc3, 0x28])]);
    cases.push(["truncated", Buffer.from([...tag(field, 2), 0xff, 0xff, 0xff, 0xff, 0x0f, 0x61])]);
    cases.push(["nested-garbage", Buffer.from([...tag(field, 2), 6, ...tag(1, 2), 200, 1, 2, 3])]);
  }
  cases.push(["deprecated-group", Buffer.from([...tag(1, 3), ...tag(2, 0), 1])]);
  cases.push(["invalid-wire-type", Buffer.from([...tag(1, 6), 1, 2])]);
  cases.push(["invalid-wire-type", Buffer.from([...tag(1, 7), 1, 2])]);
  cases.push(["field-zero", Buffer.from([0x00, 0x01])]);
  cases.push(["unknown-field", Buffer.from([...tag(999_999, 0), 1, ...tag(536_870_911, 2), 1, 0x61])]);
  cases.push(["huge-string", Buffer.concat([Buffer.from([...tag(1, 2), ...varint(200_000)]), Buffer.alloc(200_000, 0x61)])]);
  cases.push(["empty", Buffer.alloc(0)]);
  return cases;
}

export function generateGrpcCases(randomPerRpc = 12): GrpcCase[] {
  const cases: GrpcCase[] = [];
  let seed = 0;
  const broken = structural();
  for (const [name, route] of Object.entries(ROUTES)) {
    const path = `/${name}`;
    const streaming = isWatchRoute(route);
    for (const [category, message] of broken) cases.push({ category, path, message, streaming, authorized: true });
    for (let i = 0; i < randomPerRpc; i++) {
      seed++;
      cases.push({ category: "random-bytes", path, message: bytes(seed, 1 + (seed % 64)), streaming, authorized: true });
    }
    cases.push({ category: "no-auth", path, message: bytes(seed, 16), streaming, authorized: false });
  }
  return cases;
}

/** Sends every case (bounded concurrency) and returns the status of each. */
export async function runGrpcCases(address: string, bearer: string, cases: GrpcCase[], concurrency = 20): Promise<GrpcOutcome[]> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure(), { "grpc.max_send_message_length": 16 * 1024 * 1024 });
  const identity = (b: Buffer) => b;
  const outcomes: GrpcOutcome[] = new Array(cases.length);
  let next = 0;

  function one(c: GrpcCase): Promise<GrpcOutcome> {
    const metadata = new grpc.Metadata();
    if (c.authorized) metadata.set("authorization", `Bearer ${bearer}`);
    const deadline = Date.now() + 10_000;
    return new Promise((resolve) => {
      if (c.streaming) {
        const call = client.makeServerStreamRequest(c.path, identity, identity, c.message, metadata, { deadline });
        // A watch that is accepted streams until cancelled: the first message proves it answered.
        call.on("data", () => call.cancel());
        call.on("error", () => undefined);
        call.on("status", (s: grpc.StatusObject) => resolve({ case: c, code: s.code, details: s.details }));
        return;
      }
      client.makeUnaryRequest(c.path, identity, identity, c.message, metadata, { deadline }, (err) => {
        resolve({ case: c, code: err ? (err.code ?? grpc.status.UNKNOWN) : grpc.status.OK, details: err?.details ?? "" });
      });
    });
  }

  async function worker() {
    while (next < cases.length) {
      const i = next++;
      outcomes[i] = await one(cases[i]);
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  client.close();
  return outcomes;
}
