/** Tables owned by the teams service. Only `services/teams/store.ts` queries them. */
import { foreignKey, index, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";
import type { Role } from "../../lib/auth";

/** A team: a group of users sharing the rows created inside it. `ownerId` is the user who created it. */
export const teams = pgTable(
  "teams",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    ownerId: text("owner_id").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [index("teams_owner_idx").on(t.ownerId)],
);

/** Membership: the role a user has in a team. The source of truth for a team token's role. */
export const teamMembers = pgTable(
  "team_members",
  {
    teamId: text("team_id").notNull(),
    userId: text("user_id").notNull(),
    role: text("role").$type<Role>().notNull(),
    addedBy: text("added_by").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: "team_members_pk", columns: [t.teamId, t.userId] }),
    index("team_members_user_idx").on(t.userId),
    foreignKey({ name: "team_members_team_fk", columns: [t.teamId], foreignColumns: [teams.id] }).onDelete("cascade"),
  ],
);

export type TeamRow = typeof teams.$inferSelect;
export type TeamMemberRow = typeof teamMembers.$inferSelect;
