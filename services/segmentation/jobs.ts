/**
 * The daily refresh of every dynamic segment. Time alone changes membership (`noActivityDays >= 14`,
 * `withinLastDays`), so segments are re-materialized even when no fan changed. Refreshing is idempotent:
 * a second run in the same instant changes nothing.
 */
import type { Service } from "moleculer";
import type { SegmentationStore } from "./store";

export const REFRESH_JOB = "segmentation.refresh-dynamic-segments";
export const REFRESH_EVERY = "1 day";

export interface RefreshHost {
  store: SegmentationStore;
  refreshAndAnnounce(segment: Awaited<ReturnType<SegmentationStore["allDynamicSegments"]>>[number], reason: string): Promise<unknown>;
}

export async function refreshDynamicSegments(this: Service & RefreshHost): Promise<void> {
  for (const segment of await this.store.allDynamicSegments()) {
    try {
      await this.refreshAndAnnounce(segment, "scheduled");
    } catch (err) {
      // One broken segment must not stop the others; the next run tries it again.
      this.logger.error(`Refreshing segment ${segment.id} failed`, err);
    }
  }
}
