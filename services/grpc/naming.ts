/** Name spellings the gateway converts between: proto field names, proto enum values and action values. */

/** `segment_ids` → `segmentIds`: how proto-loader (keepCase: false, i.e. protobufjs) spells a field name. */
export function camelCase(name: string): string {
  return name.slice(0, 1) + name.slice(1).replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** `segmentIds` → `segment_ids`: the name a field has in the .proto file. */
export function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** `CampaignType` → `CAMPAIGN_TYPE`, `ABTestStatus` → `AB_TEST_STATUS`: the conventional enum value prefix. */
export function upperSnake(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1_$2")
    .toUpperCase();
}
