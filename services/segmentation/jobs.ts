/**
 * The daily refresh of every dynamic segment. Time alone changes membership (`noActivityDays >= 14`,
 * `withinLastDays`), so segments are re-materialized even when no fan changed. Refreshing is idempotent:
 * a second run in the same instant changes nothing.
 */
import type { Service } from "moleculer";
import { systemAudit, type AuditContext } from "../audit/context";
import type { SegmentationStore } from "./store";

export const REFRESH_JOB = "segmentation.refresh-dynamic-segments";
export const REFRESH_EVERY = "1 day";

export interface RefreshHost {
  store: SegmentationStore;
  refreshAndAnnounce(segment: Awaited<ReturnType<SegmentationStore["allDynamicSegments"]>>[number], reason: string, audit?: AuditContext): Promise<unknown>;
}

export async function refreshDynamicSegments(this: Service & RefreshHost): Promise<void> {
  for (const segment of await this.store.allDynamicSegments()) {
    try {
      // Recorded as `system`, and only for segments whose membership changed.
      await this.refreshAndAnnounce(segment, "scheduled", systemAudit("segmentation.refreshSegment"));
    } catch (err) {
      // One broken segment must not stop the others; the next run tries it again.
      this.logger.error(`Refreshing segment ${segment.id} failed`, err);
    }
  }
}
