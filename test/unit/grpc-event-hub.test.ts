/** The event hub that feeds streaming RPCs (services/grpc/event-hub.ts). */
import { TooManyRequestsError } from "../../lib/errors";
import { EventHub } from "../../services/grpc/event-hub";

/** Reads `count` items, or the error that ended the subscription. */
async function take<T>(iterable: AsyncIterable<T>, count: number): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) {
    items.push(item);
    if (items.length === count) break;
  }
  return items;
}

describe("EventHub", () => {
  it("queues only the named events its select keeps, from the moment of subscribing", async () => {
    const hub = new EventHub();
    hub.publish({ name: "a", payload: 0 });
    const sub = hub.subscribe(["a", "b"], ({ name, payload }) => ((payload as number) % 2 ? `${name}${payload}` : undefined));
    hub.publish({ name: "a", payload: 1 });
    hub.publish({ name: "a", payload: 2 });
    hub.publish({ name: "c", payload: 3 });
    hub.publish({ name: "b", payload: 5 });
    expect(await take(sub, 2)).toEqual(["a1", "b5"]);
  });

  it("wakes a waiting reader when an event arrives", async () => {
    const hub = new EventHub();
    const sub = hub.subscribe(["a"], ({ payload }) => payload);
    const read = take(sub, 1);
    setTimeout(() => hub.publish({ name: "a", payload: "late" }), 10);
    expect(await read).toEqual(["late"]);
  });

  it("ends every subscription with the close reason, and refuses new ones after", async () => {
    const hub = new EventHub();
    const sub = hub.subscribe(["a"], ({ payload }) => payload);
    hub.publish({ name: "a", payload: 1 });
    const reason = new Error("stopping");
    hub.close(reason);
    // Queued items are dropped: the stream ends at once.
    await expect(take(sub, 1)).rejects.toBe(reason);
    await expect(take(hub.subscribe(["a"], ({ payload }) => payload), 1)).rejects.toBe(reason);
    expect(hub.size).toBe(0);
  });

  it("fails a subscriber that falls too far behind instead of queueing without bound", async () => {
    const hub = new EventHub();
    const sub = hub.subscribe(["a"], ({ payload }) => payload);
    for (let i = 0; i <= 1_000; i++) hub.publish({ name: "a", payload: i });
    await expect(take(sub, 2_000)).rejects.toBeInstanceOf(TooManyRequestsError);
    expect(hub.size).toBe(0);
  });

  it("fails only the subscriber whose select throws", async () => {
    const hub = new EventHub();
    const broken = new Error("unreadable payload");
    const fragile = hub.subscribe(["a"], () => {
      throw broken;
    });
    const sturdy = hub.subscribe(["a"], ({ payload }) => payload);
    hub.publish({ name: "a", payload: "x" });
    await expect(take(fragile, 1)).rejects.toBe(broken);
    expect(await take(sturdy, 1)).toEqual(["x"]);
  });

  it("forgets a closed subscription", () => {
    const hub = new EventHub();
    const sub = hub.subscribe(["a"], ({ payload }) => payload);
    expect(hub.size).toBe(1);
    sub.close();
    expect(hub.size).toBe(0);
  });
});
