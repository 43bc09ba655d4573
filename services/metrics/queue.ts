/**
 * The bounded buffer between event handlers and CloudWatch. Pushing never waits and never fails: when
 * CloudWatch is down long enough to fill it, the oldest datums go first (recent data is worth more to
 * alarms) and `dropped` counts them so the loss shows in logs and on /metrics.
 */
export class BoundedQueue<T> {
  private items: T[] = [];
  dropped = 0;

  constructor(readonly limit: number) {}

  get size(): number {
    return this.items.length;
  }

  push(...values: T[]): void {
    this.items.push(...values);
    this.trim();
  }

  /** Puts items back in front (a batch that failed to send), still within the bound. */
  unshift(values: T[]): void {
    this.items = values.concat(this.items);
    this.trim();
  }

  drain(): T[] {
    const out = this.items;
    this.items = [];
    return out;
  }

  private trim(): void {
    const excess = this.items.length - this.limit;
    if (excess > 0) {
      this.items.splice(0, excess);
      this.dropped += excess;
    }
  }
}
