/** Properties our action schemas carry beyond Moleculer's own (read by the access middleware and OpenAPI). */
import type { Permission } from "./access";

declare module "moleculer" {
  interface ActionSchema {
    /** Permission the caller's role needs; false for public actions. Defaults to "read". */
    permission?: Permission | false;
    /** OpenAPI details for this action's REST route. */
    openapi?: {
      summary?: string;
      description?: string;
      tags?: string[];
      /** Success status, 200 by default. */
      status?: number;
      /** Response body: a JSON Schema, or a content type for downloads. */
      response?: Record<string, unknown> | { contentType: string };
    };
  }
}

export type {} from "moleculer-web";
