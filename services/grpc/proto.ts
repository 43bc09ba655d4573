/**
 * Loads the .proto files from the project's `proto/` folder at start (they are not compiled). Imports of
 * google/protobuf/*.proto (Struct, Empty, ...) resolve to the definitions bundled with protobufjs, which
 * proto-loader uses, so no copy of Google's protos is needed.
 */
import path from "node:path";
import * as protoLoader from "@grpc/proto-loader";
import { PROJECT_ROOT } from "../../lib/db";

export const PROTO_DIR = path.join(PROJECT_ROOT, "proto");

/** The codec (./codec.ts) relies on these: camelCase field names, enum names as strings, no defaults. */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: String,
  enums: String,
  defaults: false,
  oneofs: true,
  includeDirs: [PROTO_DIR],
};

/** `files` relative to `proto/` (`marketing/v1/campaigns.proto`). */
export function loadProtos(files: readonly string[]): protoLoader.PackageDefinition {
  return protoLoader.loadSync([...files], LOADER_OPTIONS);
}
