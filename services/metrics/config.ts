/**
 * Settings of the metrics service, read from the environment. CloudWatch publishing is off unless
 * `CLOUDWATCH_NAMESPACE` is set; Prometheus metrics are always on. Kept here until the keys move into
 * lib/config.ts (the one config module); the names below are the env keys to add there.
 */
export interface MetricsConfig {
  /** CloudWatch namespace (`CLOUDWATCH_NAMESPACE`, e.g. "CreatorMarketing"); unset → no CloudWatch. */
  namespace?: string;
  /** AWS region (`AWS_REGION`, falling back to `AWS_DEFAULT_REGION`). Credentials come from the SDK's default chain. */
  region?: string;
  /** Endpoint override (`CLOUDWATCH_ENDPOINT`): a local fake in tests, a VPC endpoint in production. */
  endpoint?: string;
  /** How often the queue is flushed (`CLOUDWATCH_FLUSH_MS`, default 60 s: CloudWatch's standard resolution). */
  flushMs: number;
  /** Datums held while CloudWatch is slow or down (`CLOUDWATCH_QUEUE_LIMIT`); the oldest are dropped beyond it. */
  queueLimit: number;
  /** ARNs (e.g. an SNS topic) the alarms notify, comma-separated (`CLOUDWATCH_ALARM_ACTIONS`); used by `npm run cloudwatch:apply`. */
  alarmActions: string[];
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}, got "${raw}"`);
  return n;
}

function str(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const raw = env[name];
  return raw === undefined || raw.trim() === "" ? undefined : raw.trim();
}

export function loadMetricsConfig(env: NodeJS.ProcessEnv = process.env): MetricsConfig {
  const namespace = str(env, "CLOUDWATCH_NAMESPACE");
  // CloudWatch refuses namespaces starting with "AWS/" (reserved) and other characters than these.
  if (namespace && (!/^[A-Za-z0-9._\-/#:]{1,255}$/.test(namespace) || namespace.startsWith("AWS/"))) {
    throw new Error(`CLOUDWATCH_NAMESPACE "${namespace}" is not a valid custom namespace (letters, digits, . _ - / # :, not starting with AWS/)`);
  }
  return {
    namespace,
    region: str(env, "AWS_REGION") ?? str(env, "AWS_DEFAULT_REGION"),
    endpoint: str(env, "CLOUDWATCH_ENDPOINT"),
    flushMs: int(env, "CLOUDWATCH_FLUSH_MS", 60_000, 100),
    queueLimit: int(env, "CLOUDWATCH_QUEUE_LIMIT", 20_000, 1),
    alarmActions: (str(env, "CLOUDWATCH_ALARM_ACTIONS") ?? "").split(",").map((a) => a.trim()).filter(Boolean),
  };
}
