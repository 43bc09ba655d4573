/**
 * Descriptor-driven conversion between gRPC messages, as proto-loader decodes and encodes them, and the
 * plain JSON values actions take and return. It walks the message descriptors of the loaded package, so a
 * new .proto needs no conversion code of its own:
 * - `google.protobuf.Struct` / `Value` / `ListValue` fields, at any depth and inside lists and maps,
 *   ⇄ plain JSON;
 * - enum values ⇄ action values by convention: `CAMPAIGN_SORT_CREATED_AT` of enum `CampaignSort` ⇄
 *   "createdAt" (prefix off, lower camel case); the zero `*_UNSPECIFIED` value means "not given";
 * - `Date` values in string fields → RFC 3339 (results hold Dates on this node, strings after NATS);
 * - field names stay proto-loader's camelCase, except `aliases` for the few an action spells differently.
 * Only declared fields are copied, so proto-loader's virtual oneof properties (`_description`) never reach
 * an action's strict params, and fields an action returns beyond the proto stay internal.
 * It assumes the loader options of ./proto.ts (keepCase false, enums as String, defaults false).
 */
import type { MessageTypeDefinition, PackageDefinition } from "@grpc/proto-loader";
import { UnprocessableError, type FieldProblem } from "../../lib/errors";
import { camelCase, snakeCase, upperSnake } from "./naming";

/** The parts of descriptor.proto's objects (as proto-loader exposes them) the codec reads. */
interface FieldDescriptor {
  name: string;
  label: string;
  type: string;
  typeName: string;
}
interface MessageDescriptor {
  name: string;
  field?: FieldDescriptor[];
  nestedType?: MessageDescriptor[];
  enumType?: EnumDescriptor[];
  options?: { mapEntry?: boolean } | null;
}
interface EnumDescriptor {
  name: string;
  value?: { name: string; number: number }[];
}

const STRUCT = "google.protobuf.Struct";
const VALUE = "google.protobuf.Value";
const LIST_VALUE = "google.protobuf.ListValue";
const JSON_TYPES = new Set([STRUCT, VALUE, LIST_VALUE]);

export type FieldKind = "scalar" | "enum" | "message" | "json";

export interface Field {
  /** Name in proto-loader's objects (camelCase of the proto name). */
  wireName: string;
  /** Name in action params and results. */
  key: string;
  /** Name in the .proto file, for messages to clients (`segment_ids`). */
  protoName: string;
  kind: FieldKind;
  /** Full name of the message, enum or JSON type; empty for scalars. */
  typeName: string;
  /** Proto scalar type (`TYPE_STRING`, ...), for the Date rule. */
  scalarType: string;
  repeated: boolean;
  /** For map fields: how each value converts. */
  mapValue?: Field;
}

type Obj = Record<string, unknown>;

/** How one enum's values map to action values. */
class EnumMapping {
  /** The `*_UNSPECIFIED` zero value, which means "not given". */
  readonly unspecified: string | undefined;
  readonly toAction = new Map<string, string>();
  readonly toProto = new Map<string, string>();

  constructor(desc: EnumDescriptor) {
    const prefix = `${upperSnake(desc.name)}_`;
    for (const { name, number } of desc.value ?? []) {
      if (number === 0 && name.endsWith("UNSPECIFIED")) {
        this.unspecified = name;
        continue;
      }
      const bare = name.startsWith(prefix) ? name.slice(prefix.length) : name;
      const actionValue = camelCase(bare.toLowerCase());
      this.toAction.set(name, actionValue);
      this.toProto.set(actionValue, name);
    }
  }
}

export class ProtoCodec {
  private readonly messages = new Map<string, MessageDescriptor>();
  private readonly enums = new Map<string, EnumDescriptor>();
  private readonly compiled = new Map<string, Field[]>();
  private readonly enumMappings = new Map<string, EnumMapping>();

  /** `aliases`: proto-loader field name → action key, where they differ (`{ isAbTest: "isABTest" }`). */
  constructor(definition: PackageDefinition, private readonly aliases: Record<string, string> = {}) {
    for (const [name, def] of Object.entries(definition)) {
      if (def.format === "Protocol Buffer 3 DescriptorProto") this.indexMessage(name, def.type as MessageDescriptor);
      else if (def.format === "Protocol Buffer 3 EnumDescriptorProto") this.enums.set(name, def.type as EnumDescriptor);
    }
  }

  /** Request message → action params. Throws a 422 listing every field that has no action value. */
  toParams(typeName: string, message: Obj): Obj {
    const problems: FieldProblem[] = [];
    const params = this.messageToParams(typeName, message, "", problems);
    if (problems.length) throw new UnprocessableError("Parameters validation error!", problems);
    return params;
  }

  /** Action result → response message (the object proto-loader serializes). */
  toMessage(typeName: string, value: Obj): Obj {
    const out: Obj = {};
    for (const field of this.fields(typeName)) {
      const v = value[field.key];
      if (v === undefined || v === null) continue;
      const wire = field.mapValue
        ? mapValues(v as Obj, (item) => this.valueToWire(field.mapValue!, item))
        : field.repeated
          ? (v as unknown[]).map((item) => this.valueToWire(field, item)).filter((item) => item !== undefined)
          : this.valueToWire(field, v);
      if (wire !== undefined) out[field.wireName] = wire;
    }
    return out;
  }

  /** The fields of a message, compiled once. */
  fields(typeName: string): readonly Field[] {
    let fields = this.compiled.get(typeName);
    if (!fields) {
      const desc = this.messages.get(typeName);
      if (!desc) throw new Error(`message ${typeName} is not loaded`);
      fields = (desc.field ?? []).map((f) => this.compileField(f, typeName));
      this.compiled.set(typeName, fields);
    }
    return fields;
  }

  /** The proto name of the field an action calls `key` (`segmentIds` → `segment_ids`), if the message has one. */
  protoFieldName(typeName: string, key: string): string | undefined {
    return this.fields(typeName).find((f) => f.key === key)?.protoName;
  }

  /**
   * Full name of a method's request or response type. proto-loader gives methods the message's descriptor
   * but not its full name, so it is found among the loaded messages of that simple name with an equal
   * descriptor; `preferPackage` settles the (unlikely) tie between identical messages of two packages.
   */
  messageNameOf(def: MessageTypeDefinition<object, object>, preferPackage: string): string {
    const desc = def.type as MessageDescriptor;
    const shape = JSON.stringify(desc);
    const matches = [...this.messages]
      .filter(([name, candidate]) => name.endsWith(`.${desc.name}`) && JSON.stringify(candidate) === shape)
      .map(([name]) => name);
    if (matches.length === 1) return matches[0];
    const preferred = matches.find((name) => name === `${preferPackage}.${desc.name}`);
    if (preferred) return preferred;
    throw new Error(`cannot tell which loaded message ${desc.name} is (candidates: ${matches.join(", ") || "none"})`);
  }

  private indexMessage(fullName: string, desc: MessageDescriptor): void {
    this.messages.set(fullName, desc);
    for (const nested of desc.nestedType ?? []) this.indexMessage(`${fullName}.${nested.name}`, nested);
    for (const e of desc.enumType ?? []) this.enums.set(`${fullName}.${e.name}`, e);
  }

  /** Resolves a type reference as protoc does: innermost scope first, out to the root. */
  private resolve(ref: string, scope: string): string {
    if (ref.startsWith(".")) return ref.slice(1);
    const parts = scope.split(".");
    for (let i = parts.length; i >= 0; i--) {
      const candidate = [...parts.slice(0, i), ref].join(".");
      if (this.messages.has(candidate) || this.enums.has(candidate)) return candidate;
    }
    throw new Error(`type ${ref} used in ${scope} is not loaded`);
  }

  private compileField(f: FieldDescriptor, scope: string): Field {
    const typeName = f.typeName ? this.resolve(f.typeName, scope) : "";
    const field: Field = {
      wireName: f.name,
      key: this.aliases[f.name] ?? f.name,
      protoName: snakeCase(f.name),
      kind: f.type === "TYPE_ENUM" ? "enum" : f.type !== "TYPE_MESSAGE" ? "scalar" : JSON_TYPES.has(typeName) ? "json" : "message",
      typeName,
      scalarType: f.type,
      repeated: f.label === "LABEL_REPEATED",
    };
    const entry = field.kind === "message" ? this.messages.get(typeName) : undefined;
    if (entry?.options?.mapEntry) {
      const valueField = entry.field!.find((e) => e.name === "value")!;
      return { ...field, repeated: false, kind: "message", mapValue: this.compileField(valueField, typeName) };
    }
    return field;
  }

  private enumMapping(typeName: string): EnumMapping {
    let mapping = this.enumMappings.get(typeName);
    if (!mapping) {
      mapping = new EnumMapping(this.enums.get(typeName)!);
      this.enumMappings.set(typeName, mapping);
    }
    return mapping;
  }

  private messageToParams(typeName: string, message: Obj, path: string, problems: FieldProblem[]): Obj {
    const out: Obj = {};
    for (const field of this.fields(typeName)) {
      const v = message[field.wireName];
      if (v === undefined || v === null) continue;
      const at = path ? `${path}.${field.key}` : field.key;
      const param = field.mapValue
        ? mapValues(v as Obj, (item, k) => this.valueToParam(field.mapValue!, item, `${at}.${k}`, problems, true))
        : field.repeated
          ? (v as unknown[]).map((item, i) => this.valueToParam(field, item, `${at}[${i}]`, problems, true))
          : this.valueToParam(field, v, at, problems, false);
      if (param !== undefined) out[field.key] = param;
    }
    return out;
  }

  /** `inCollection`: an UNSPECIFIED enum inside a list or map is an error, not "not given". */
  private valueToParam(field: Field, v: unknown, path: string, problems: FieldProblem[], inCollection: boolean): unknown {
    switch (field.kind) {
      case "scalar":
        return v;
      case "message":
        return this.messageToParams(field.typeName, v as Obj, path, problems);
      case "json":
        return wireToJson(field.typeName, v as Obj, path, problems);
      case "enum": {
        const mapping = this.enumMapping(field.typeName);
        if (v === mapping.unspecified && !inCollection) return undefined;
        const actionValue = typeof v === "string" ? mapping.toAction.get(v) : undefined;
        if (actionValue === undefined) {
          problems.push({
            field: path,
            type: "enumValue",
            message: `The '${path}' field must be one of: ${[...mapping.toAction.keys()].join(", ")}.`,
          });
        }
        return actionValue;
      }
    }
  }

  private valueToWire(field: Field, v: unknown): unknown {
    switch (field.kind) {
      case "scalar":
        return v instanceof Date && field.scalarType === "TYPE_STRING" ? v.toISOString() : v;
      case "message":
        return this.toMessage(field.typeName, v as Obj);
      case "json":
        return jsonToWire(field.typeName, v);
      case "enum":
        // A value the proto does not know yet (a newer server) is left out: the client sees UNSPECIFIED.
        return this.enumMapping(field.typeName).toProto.get(String(v));
    }
  }
}

function mapValues(obj: Obj, convert: (v: unknown, key: string) => unknown): Obj {
  // fromEntries defines own properties, so a "__proto__" key stays data for the JSON guard to refuse.
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, convert(v, k)]));
}

/** A Struct, Value or ListValue as proto-loader decodes it → plain JSON. */
function wireToJson(typeName: string, v: Obj, path: string, problems: FieldProblem[]): unknown {
  if (typeName === STRUCT) return mapValues((v.fields ?? {}) as Obj, (item, k) => valueToJson(item as Obj, `${path}.${k}`, problems));
  if (typeName === LIST_VALUE) return listToJson(v, path, problems);
  return valueToJson(v, path, problems);
}

function listToJson(list: Obj, path: string, problems: FieldProblem[]): unknown[] {
  return ((list.values ?? []) as Obj[]).map((item, i) => valueToJson(item, `${path}[${i}]`, problems));
}

function valueToJson(v: Obj, path: string, problems: FieldProblem[]): unknown {
  if ("nullValue" in v) return null;
  if ("numberValue" in v) return v.numberValue;
  if ("stringValue" in v) return v.stringValue;
  if ("boolValue" in v) return v.boolValue;
  if ("structValue" in v) return wireToJson(STRUCT, v.structValue as Obj, path, problems);
  if ("listValue" in v) return listToJson(v.listValue as Obj, path, problems);
  problems.push({ field: path, type: "jsonValue", message: `The '${path}' value has none of its kinds set.` });
  return undefined;
}

/** Plain JSON → a Struct, Value or ListValue for proto-loader to encode. */
function jsonToWire(typeName: string, v: unknown): unknown {
  if (typeName === STRUCT) return jsonToStruct(v);
  if (typeName === LIST_VALUE) return { values: (v as unknown[]).map(jsonToValue) };
  return jsonToValue(v);
}

function jsonToStruct(v: unknown): Obj {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new TypeError(`a ${STRUCT} needs an object, got ${typeof v}`);
  // Like JSON.stringify, undefined properties are left out.
  const entries = Object.entries(v).filter(([, item]) => item !== undefined);
  return { fields: Object.fromEntries(entries.map(([k, item]) => [k, jsonToValue(item)])) };
}

function jsonToValue(v: unknown): Obj {
  if (v === null || v === undefined) return { nullValue: "NULL_VALUE" };
  if (typeof v === "number") return { numberValue: v };
  if (typeof v === "string") return { stringValue: v };
  if (typeof v === "boolean") return { boolValue: v };
  if (v instanceof Date) return { stringValue: v.toISOString() };
  if (Array.isArray(v)) return { listValue: { values: v.map(jsonToValue) } };
  if (typeof v === "object") return { structValue: jsonToStruct(v) };
  return { stringValue: String(v) };
}
