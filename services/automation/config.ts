/** Automation settings from the environment, with defaults that work embedded. */
export interface AutomationConfig {
  maxActiveWorkflows: number;
  runsPerMinute: number;
  retries: number;
  retryBaseMs: number;
  leaseMs: number;
  webhookSecret: string;
  webhookTimeoutMs: number;
  /** How often the sweep resumes due runs whose Agenda wake-up was lost, and times runs out. */
  sweepEvery: string;
  behaviorScanEvery: string;
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
  return n;
}

export function loadAutomationConfig(env: NodeJS.ProcessEnv, fallbackSecret: string): AutomationConfig {
  return {
    maxActiveWorkflows: int(env, "AUTOMATION_MAX_ACTIVE_WORKFLOWS", 50),
    runsPerMinute: int(env, "AUTOMATION_RUNS_PER_MINUTE", 2000),
    retries: int(env, "AUTOMATION_RETRIES", 3),
    retryBaseMs: int(env, "AUTOMATION_RETRY_BASE_MS", 1000),
    leaseMs: int(env, "AUTOMATION_LEASE_MS", 120_000),
    webhookSecret: env.AUTOMATION_WEBHOOK_SECRET || fallbackSecret,
    webhookTimeoutMs: int(env, "AUTOMATION_WEBHOOK_TIMEOUT_MS", 5000),
    sweepEvery: env.AUTOMATION_SWEEP_EVERY || "30 seconds",
    behaviorScanEvery: env.AUTOMATION_BEHAVIOR_SCAN_EVERY || "15 minutes",
  };
}
