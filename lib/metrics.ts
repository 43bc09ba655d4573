/**
 * Prometheus exposition without a second HTTP server: the REST gateway serves `/metrics` from this
 * reporter (Moleculer's Prometheus reporter, minus its own listener).
 */
import { MetricReporters, type ServiceBroker } from "moleculer";

const Prometheus = MetricReporters.Prometheus as unknown as new (opts?: object) => {
  opts: { defaultLabels: unknown };
  defaultLabels: unknown;
  generatePrometheusResponse(): string;
  init(registry: unknown): void;
};
const Base = MetricReporters.Base as unknown as { prototype: { init(this: unknown, registry: unknown): void } };

export class InProcessPrometheusReporter extends Prometheus {
  init(registry: unknown): void {
    Base.prototype.init.call(this, registry);
    const labels = this.opts.defaultLabels;
    this.defaultLabels = typeof labels === "function" ? labels.call(this, registry) : labels;
  }

  async stop(): Promise<void> {}
}

/** The text `/metrics` answers with, or undefined when metrics are off. */
export function prometheusText(broker: ServiceBroker): string | undefined {
  const reporters = (broker.metrics as unknown as { reporter?: unknown[] }).reporter ?? [];
  const ours = reporters.find((r): r is InProcessPrometheusReporter => r instanceof InProcessPrometheusReporter);
  return ours?.generatePrometheusResponse();
}
