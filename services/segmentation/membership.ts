/**
 * Incremental re-evaluation: when fans change, decide in memory which dynamic segments they now enter or
 * leave, without re-running every segment's query. Pure: the caller loads the inputs and applies the result.
 */
import { evaluateCriteria, type Criteria } from "./criteria";
import type { Fan, FanKey, MembershipChange, Segment } from "./store";

/** Whether a segment's audience (its owner's and team's fans) includes the fan. */
export function inAudience(segment: Pick<Segment, "ownerId" | "teamId">, fan: Pick<Fan, "ownerId" | "teamId">): boolean {
  return segment.ownerId === fan.ownerId || (segment.teamId !== null && segment.teamId === fan.teamId);
}

const keyOf = (m: MembershipChange) => `${m.segmentId}\u0000${m.ownerId}\u0000${m.fanId}`;

export function diffMemberships(
  changed: Fan[],
  dynamicSegments: Segment[],
  current: MembershipChange[],
  now: Date,
): { add: MembershipChange[]; remove: MembershipChange[] } {
  const existing = new Set(current.map(keyOf));
  const add: MembershipChange[] = [];
  const remove: MembershipChange[] = [];
  for (const segment of dynamicSegments) {
    if (!segment.criteria) continue;
    for (const fan of changed) {
      const m = { segmentId: segment.id, ownerId: fan.ownerId, fanId: fan.id };
      const belongs = inAudience(segment, fan) && evaluateCriteria(fan, segment.criteria as Criteria, now);
      const member = existing.has(keyOf(m));
      if (belongs && !member) add.push(m);
      if (!belongs && member) remove.push(m);
    }
  }
  return { add, remove };
}

/** Groups membership changes per segment for the entered/exited events. */
export function bySegment(changes: MembershipChange[]): Map<string, FanKey[]> {
  const out = new Map<string, FanKey[]>();
  for (const { segmentId, ownerId, fanId } of changes) {
    const list = out.get(segmentId) ?? [];
    list.push({ ownerId, fanId });
    out.set(segmentId, list);
  }
  return out;
}
