/**
 * Hands the broker events this node's gateway receives to the streaming calls that wait for them.
 * A subscription queues only the events its `select` keeps, from the moment it is made, so a watch that
 * subscribes before reading the current state misses nothing in between.
 */
import { TooManyRequestsError } from "../../lib/errors";

export interface BrokerEvent {
  name: string;
  payload: unknown;
}

/** A consumer this far behind is told to reconnect instead of growing the queue without bound. */
const MAX_PENDING = 1_000;

export class EventHub {
  private readonly subscriptions = new Set<Subscription<unknown>>();
  private closedWith: Error | undefined;

  publish(event: BrokerEvent): void {
    for (const subscription of this.subscriptions) subscription.offer(event);
  }

  /** Events named in `names` that `select` maps to an item (undefined: not this subscriber's business). */
  subscribe<T>(names: readonly string[], select: (event: BrokerEvent) => T | undefined): Subscription<T> {
    const subscription = new Subscription(new Set(names), select, () => this.subscriptions.delete(subscription));
    // A stream that subscribes while the server is stopping ends at once instead of holding up shutdown.
    if (this.closedWith) subscription.fail(this.closedWith);
    else this.subscriptions.add(subscription);
    return subscription;
  }

  /** Ends every subscription with `reason` (the server is stopping). */
  close(reason: Error): void {
    this.closedWith = reason;
    for (const subscription of this.subscriptions) subscription.fail(reason);
  }

  get size(): number {
    return this.subscriptions.size;
  }
}

export class Subscription<T> implements AsyncIterable<T> {
  private readonly queue: T[] = [];
  private failure: unknown;
  private wake: (() => void) | undefined;

  constructor(
    private readonly names: ReadonlySet<string>,
    private readonly select: (event: BrokerEvent) => T | undefined,
    private readonly detach: () => void,
  ) {}

  offer(event: BrokerEvent): void {
    if (this.failure || !this.names.has(event.name)) return;
    let item: T | undefined;
    try {
      item = this.select(event);
    } catch (err) {
      // An event this subscriber cannot read ends its own stream, not the delivery to the others.
      this.fail(err);
      return;
    }
    if (item === undefined) return;
    if (this.queue.length >= MAX_PENDING) {
      this.fail(new TooManyRequestsError("The stream fell too far behind the changes; reconnect", 1));
      return;
    }
    this.queue.push(item);
    this.notify();
  }

  /** Stops the subscription: iteration throws `reason` at once, dropping queued items. */
  fail(reason: unknown): void {
    this.failure ??= reason;
    this.detach();
    this.notify();
  }

  close(): void {
    this.detach();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      if (this.failure) throw this.failure;
      if (this.queue.length) {
        yield this.queue.shift()!;
        continue;
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
