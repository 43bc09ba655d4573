/**
 * The descriptor-driven codec (services/grpc/codec.ts) on a proto made for the purpose: JSON types at
 * depth, in lists and maps; enums; aliases; proto3 optional; and how method types are found.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as protoLoader from "@grpc/proto-loader";
import { ProtoCodec } from "../../services/grpc/codec";
import { LOADER_OPTIONS } from "../../services/grpc/proto";

const PROTO = `
syntax = "proto3";
package test.v1;
import "google/protobuf/struct.proto";

enum Color {
  COLOR_UNSPECIFIED = 0;
  COLOR_DARK_RED = 1;
  COLOR_BLUE = 2;
}

message Outer {
  message Inner {
    google.protobuf.Struct data = 1;
    repeated Color colors = 2;
  }
  Inner inner = 1;
  repeated Inner inners = 2;
  map<string, google.protobuf.Struct> by_key = 3;
  google.protobuf.Value any_value = 4;
  google.protobuf.ListValue list = 5;
  optional Color color = 6;
  string created_at = 7;
  optional string note = 8;
  bool is_ab_test = 9;
  repeated google.protobuf.Struct structs = 10;
}

service Things {
  rpc Do(Outer) returns (Outer.Inner);
}
`;

const OUTER = "test.v1.Outer";
let definition: protoLoader.PackageDefinition;
let codec: ProtoCodec;

beforeAll(() => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "grpc-codec-"));
  fs.writeFileSync(path.join(dir, "things.proto"), PROTO);
  definition = protoLoader.loadSync("things.proto", { ...LOADER_OPTIONS, includeDirs: [dir] });
  fs.rmSync(dir, { recursive: true });
  codec = new ProtoCodec(definition, { isAbTest: "isABTest" });
});

/** What a client's message looks like after the wire: encoded and decoded by proto-loader. */
function overTheWire(typeName: string, message: object): Record<string, unknown> {
  const type = definition[typeName] as protoLoader.MessageTypeDefinition<object, Record<string, unknown>>;
  return type.deserialize(type.serialize(message));
}

const sample = {
  inner: { data: { a: 1, b: [true, null, "x", { c: { d: [1.5] } }] }, colors: ["darkRed", "blue"] },
  inners: [{ data: {} }, { data: { deep: { deeper: { deepest: "yes" } } } }],
  byKey: { k1: { n: 1 }, k2: { s: "two" } },
  anyValue: [1, { two: 2 }],
  list: ["a", 1, false],
  color: "blue",
  createdAt: "2030-01-02T03:04:05.000Z",
  note: "",
  isABTest: true,
  structs: [{ one: 1 }, { two: { three: 3 } }],
};

describe("ProtoCodec", () => {
  it("round-trips plain JSON through Struct, Value and ListValue fields at any depth", () => {
    const wire = overTheWire(OUTER, codec.toMessage(OUTER, sample));
    expect(codec.toParams(OUTER, wire)).toEqual(sample);
  });

  it("writes JSON as Struct messages and enum values as proto names", () => {
    const message = codec.toMessage(OUTER, { inner: { data: { a: [1, null] }, colors: ["darkRed"] }, color: "blue" });
    expect(message).toEqual({
      inner: {
        data: { fields: { a: { listValue: { values: [{ numberValue: 1 }, { nullValue: "NULL_VALUE" }] } } } },
        colors: ["COLOR_DARK_RED"],
      },
      color: "COLOR_BLUE",
    });
  });

  it("writes Dates in string fields and inside JSON as RFC 3339", () => {
    const at = new Date("2030-01-02T03:04:05.000Z");
    const wire = overTheWire(OUTER, codec.toMessage(OUTER, { createdAt: at, inner: { data: { when: at } } }));
    expect(codec.toParams(OUTER, wire)).toEqual({ createdAt: at.toISOString(), inner: { data: { when: at.toISOString() } } });
  });

  it("reads the UNSPECIFIED enum value as not given, and leaves out unknown values when writing", () => {
    expect(codec.toParams(OUTER, overTheWire(OUTER, { color: "COLOR_UNSPECIFIED" }))).toEqual({});
    expect(codec.toMessage(OUTER, { color: "purple", inner: { colors: ["blue", "purple"] } })).toStrictEqual({ inner: { colors: ["COLOR_BLUE"] } });
  });

  it("copies only declared fields: proto-loader's virtual oneof properties stay out", () => {
    const wire = overTheWire(OUTER, { note: "hi", color: "COLOR_BLUE" });
    expect(wire).toMatchObject({ _note: "note", _color: "color" });
    expect(codec.toParams(OUTER, wire)).toEqual({ note: "hi", color: "blue" });
  });

  it("maps aliased field names both ways", () => {
    expect(codec.toMessage(OUTER, { isABTest: true })).toEqual({ isAbTest: true });
    expect(codec.toParams(OUTER, overTheWire(OUTER, { isAbTest: true }))).toEqual({ isABTest: true });
    expect(codec.protoFieldName(OUTER, "isABTest")).toBe("is_ab_test");
    expect(codec.protoFieldName(OUTER, "byKey")).toBe("by_key");
    expect(codec.protoFieldName(OUTER, "nope")).toBeUndefined();
  });

  it("refuses unknown and UNSPECIFIED enum values inside lists, naming each field", () => {
    const wire = overTheWire(OUTER, { color: 7, inners: [{ colors: ["COLOR_BLUE", 9] }, { colors: ["COLOR_UNSPECIFIED"] }] });
    let problems: { field: string }[] = [];
    try {
      codec.toParams(OUTER, wire);
    } catch (err) {
      problems = (err as { data: { field: string }[] }).data;
    }
    expect(problems.map((p) => p.field)).toEqual(["inners[0].colors[1]", "inners[1].colors[0]", "color"]);
  });

  it("refuses a Value with no kind set", () => {
    expect(() => codec.toParams(OUTER, overTheWire(OUTER, { inner: { data: { fields: { empty: {} } } } }))).toThrow(
      expect.objectContaining({ code: 422, data: [expect.objectContaining({ field: "inner.data.empty" })] }),
    );
  });

  it("keeps a __proto__ key as data, so the JSON guard can see and refuse it", () => {
    const fields = Object.fromEntries([["__proto__", { stringValue: "x" }]]);
    const params = codec.toParams(OUTER, overTheWire(OUTER, { inner: { data: { fields } } })) as { inner: { data: object } };
    expect(Object.keys(params.inner.data)).toEqual(["__proto__"]);
    expect(Object.getPrototypeOf(params.inner.data)).toBe(Object.prototype);
  });

  it("finds the full names of a method's request and response types, nested ones included", () => {
    const method = (definition["test.v1.Things"] as protoLoader.ServiceDefinition).Do;
    expect(codec.messageNameOf(method.requestType, "test.v1")).toBe(OUTER);
    expect(codec.messageNameOf(method.responseType, "test.v1")).toBe("test.v1.Outer.Inner");
  });

  it("describes each field's kind for hooks", () => {
    const kinds = Object.fromEntries(codec.fields(OUTER).map((f) => [f.protoName, [f.kind, f.repeated, Boolean(f.mapValue)]]));
    expect(kinds).toMatchObject({
      inner: ["message", false, false],
      inners: ["message", true, false],
      by_key: ["message", false, true],
      any_value: ["json", false, false],
      color: ["enum", false, false],
      created_at: ["scalar", false, false],
      structs: ["json", true, false],
    });
  });
});
