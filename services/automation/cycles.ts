/**
 * Trigger cycles: workflow A's actions emit an event that triggers B, …, which triggers A again — one
 * fan event would start runs forever. Edges come from what each action type emits on the bus.
 */
import { allActions, canonicalEvent, type Action, type Trigger } from "./definition";

interface Node {
  id: string;
  name: string;
  trigger: Trigger;
  actions: Action[];
}

/** The bus events an action causes, with the segment it concerns when that narrows the match. */
function emits(action: Action): { event: string; segment?: string }[] {
  switch (action.type) {
    case "add_to_segment":
      return [{ event: "segmentation.segment.entered", segment: action.segment as string }];
    case "remove_from_segment":
      return [{ event: "segmentation.segment.exited", segment: action.segment as string }];
    case "create_campaign":
      return [{ event: "campaigns.campaign.created" }];
    case "launch_campaign":
      return [{ event: "campaigns.campaign.launched" }];
    case "emit_event":
      return [{ event: canonicalEvent(action.event as string) }];
    default:
      return [];
  }
}

function triggers(emitted: { event: string; segment?: string }, trigger: Trigger): boolean {
  if (trigger.type !== "event" || canonicalEvent(trigger.event) !== emitted.event) return false;
  // A segment trigger is narrowed to its segment; an unnamed side (either) may match anything.
  return !trigger.segment || !emitted.segment || trigger.segment === emitted.segment;
}

/** The cycle through `candidate` as workflow names (first = last), or null. `others` are the active ones. */
export function findCycle(candidate: Node, others: Node[]): string[] | null {
  const nodes = [candidate, ...others.filter((o) => o.id !== candidate.id)];
  const next = (n: Node) => {
    const events = [...allActions(n.actions)].flatMap(emits);
    return nodes.filter((m) => events.some((e) => triggers(e, m.trigger)));
  };
  const path: Node[] = [];
  const visited = new Set<string>();
  const walk = (n: Node): string[] | null => {
    path.push(n);
    for (const m of next(n)) {
      if (m.id === candidate.id) return [...path, m].map((x) => x.name);
      if (visited.has(m.id)) continue;
      visited.add(m.id);
      const found = walk(m);
      if (found) return found;
    }
    path.pop();
    return null;
  };
  return walk(candidate);
}
