/**
 * Prints a bearer token for a running server: `npm run token -- --user u1 [--team t1] [--role editor]`.
 * With `--team`, the role is the one stored in the team's membership; `--role` only counts for personal tokens.
 * Signs with JWT_SECRET, or with the dev secret an embedded server keeps in DATA_DIR. The token is the
 * last line printed.
 */
import { parseArgs } from "node:util";
import { resolveJwtSecret, ROLES, signToken, type Role } from "../lib/auth";
import { loadConfig } from "../lib/config";

async function main() {
  const { values } = parseArgs({
    options: {
      user: { type: "string" },
      team: { type: "string" },
      role: { type: "string", default: "owner" },
      expires: { type: "string", default: "12h" },
    },
  });
  if (!values.user) throw new Error("usage: npm run token -- --user <id> [--team <id>] [--role owner|admin|editor|analyst|viewer] [--expires 12h]");
  if (!ROLES.includes(values.role as Role)) throw new Error(`--role must be one of ${ROLES.join(", ")}`);
  const config = loadConfig();
  const { secret } = resolveJwtSecret(config);
  console.log(await signToken(secret, { id: values.user, teamId: values.team ?? null, role: values.role as Role }, values.expires));
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
