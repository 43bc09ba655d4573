/**
 * Publishes observations to CloudWatch in the background. `record` only queues; a timer flushes the queue
 * as aggregated PutMetricData batches. A failed batch goes back to the queue and the next try waits with
 * exponential backoff; a batch CloudWatch refuses as invalid (4xx other than throttling) is dropped and
 * logged, since sending it again cannot succeed. Nothing here throws into the caller.
 */
import { CloudWatchClient, PutMetricDataCommand, type MetricDatum } from "@aws-sdk/client-cloudwatch";
import type { MetricsConfig } from "../../lib/config";
import type { Observation } from "./definitions";
import { aggregate, batches, datumsFor } from "./datums";
import { BoundedQueue } from "./queue";

export interface SinkLogger {
  warn(...args: unknown[]): void;
  debug(...args: unknown[]): void;
}

export type SendBatch = (namespace: string, datums: MetricDatum[]) => Promise<void>;

export interface SinkOptions {
  namespace: string;
  send: SendBatch;
  flushMs: number;
  queueLimit: number;
  logger: SinkLogger;
  /** First retry delay after a failed flush, doubled per consecutive failure up to `backoffCapMs`. */
  backoffBaseMs?: number;
  backoffCapMs?: number;
}

export interface SinkStats {
  queued: number;
  sentDatums: number;
  sentRequests: number;
  failedRequests: number;
  dropped: number;
  rejected: number;
}

/** The SDK's own retries are off: a retry here keeps the datums queued instead of holding the flush (and shutdown). */
export function cloudWatchSender(config: Pick<MetricsConfig, "region" | "endpoint">): { send: SendBatch; client: CloudWatchClient } {
  const client = new CloudWatchClient({ region: config.region, endpoint: config.endpoint, maxAttempts: 1 });
  return {
    client,
    send: async (namespace, datums) => {
      await client.send(new PutMetricDataCommand({ Namespace: namespace, MetricData: datums }));
    },
  };
}

/** Worth sending again: server errors, throttling, and network errors (no HTTP status at all). */
export function isTransient(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  const status = e?.$metadata?.httpStatusCode;
  if (status === undefined) return true;
  return status >= 500 || status === 429 || /throttl/i.test(e.name ?? "");
}

export class CloudWatchSink {
  private readonly queue: BoundedQueue<MetricDatum>;
  private timer?: NodeJS.Timeout;
  private retryTimer?: NodeJS.Timeout;
  private flushing?: Promise<void>;
  private failures = 0;
  private stats = { sentDatums: 0, sentRequests: 0, failedRequests: 0, rejected: 0 };

  constructor(private readonly opts: SinkOptions) {
    this.queue = new BoundedQueue(opts.queueLimit);
  }

  record(observations: Observation[], now = new Date()): void {
    for (const o of observations) this.queue.push(...datumsFor(o, now));
  }

  start(): void {
    this.timer = setInterval(() => {
      if (!this.retryTimer) void this.flush();
    }, this.opts.flushMs);
    this.timer.unref();
  }

  /** Stops the timers and sends what is queued once more; a failure then is logged, not retried. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    clearTimeout(this.retryTimer);
    this.timer = this.retryTimer = undefined;
    await this.flushing;
    await this.flush({ final: true });
    if (this.queue.size) this.opts.logger.warn(`CloudWatch: ${this.queue.size} datums not sent at shutdown`);
  }

  getStats(): SinkStats {
    return { ...this.stats, queued: this.queue.size, dropped: this.queue.dropped };
  }

  /** Sends everything queued now; concurrent calls share one flush. */
  flush(opts: { final?: boolean } = {}): Promise<void> {
    this.flushing ??= this.sendQueued(opts.final ?? false).finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private async sendQueued(final: boolean): Promise<void> {
    const pending = batches(aggregate(this.queue.drain()));
    for (let i = 0; i < pending.length; i++) {
      try {
        await this.opts.send(this.opts.namespace, pending[i]);
        this.stats.sentRequests++;
        this.stats.sentDatums += pending[i].length;
        this.failures = 0;
      } catch (err) {
        this.stats.failedRequests++;
        if (!isTransient(err)) {
          this.stats.rejected += pending[i].length;
          this.opts.logger.warn(`CloudWatch refused ${pending[i].length} datums, dropped: ${(err as Error).message}`);
          continue;
        }
        this.queue.unshift(pending.slice(i).flat());
        if (!final) this.scheduleRetry(err as Error);
        return;
      }
    }
  }

  private scheduleRetry(err: Error): void {
    this.failures++;
    const base = this.opts.backoffBaseMs ?? 1_000;
    const delay = Math.min(base * 2 ** (this.failures - 1), this.opts.backoffCapMs ?? 5 * 60_000);
    this.opts.logger.warn(`CloudWatch PutMetricData failed (${err.name}: ${err.message}); ${this.queue.size} datums kept, retry in ${delay} ms`);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.flush();
    }, delay);
    this.retryTimer.unref();
  }
}
