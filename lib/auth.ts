/** JWT bearer tokens (HS256 via jose) and the authenticated user every action sees in `ctx.meta.user`. */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { SignJWT, jwtVerify, errors as joseErrors } from "jose";
import { UnauthorizedError } from "./errors";

export const ROLES = ["owner", "admin", "editor", "analyst", "viewer"] as const;
export type Role = (typeof ROLES)[number];

export interface AuthUser {
  id: string;
  teamId: string | null;
  role: Role;
}

const ISSUER = "creator-marketing";
const MIN_SECRET_BYTES = 32;

function key(secret: string): Uint8Array {
  return new TextEncoder().encode(secret);
}

export async function signToken(
  secret: string,
  user: { id: string; teamId?: string | null; role?: Role },
  expiresIn: string | number = "12h",
): Promise<string> {
  return new SignJWT({ team: user.teamId ?? null, role: user.role ?? "owner" })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(user.id)
    .setIssuer(ISSUER)
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(key(secret));
}

/** Verifies signature (HS256 only: `alg: none` and other algorithms are refused), expiry and claims. */
export async function verifyToken(secret: string, token: string): Promise<AuthUser> {
  try {
    const { payload } = await jwtVerify(token, key(secret), { algorithms: ["HS256"], issuer: ISSUER });
    const role = (payload.role ?? "owner") as Role;
    if (typeof payload.sub !== "string" || payload.sub === "" || !ROLES.includes(role)) {
      throw new UnauthorizedError("The token's subject or role is invalid");
    }
    const team = typeof payload.team === "string" && payload.team !== "" ? payload.team : null;
    return { id: payload.sub, teamId: team, role };
  } catch (err) {
    if (err instanceof UnauthorizedError) throw err;
    if (err instanceof joseErrors.JWTExpired) throw new UnauthorizedError("The token has expired");
    throw new UnauthorizedError("The token is invalid");
  }
}

/** Reads `Authorization: Bearer <token>`; returns undefined when the header is absent. */
export function bearerFrom(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(value);
  if (!match) throw new UnauthorizedError("The Authorization header must be 'Bearer <token>'");
  return match[1];
}

/**
 * The signing secret: JWT_SECRET when set; otherwise (embedded mode) one generated once and kept in the
 * data folder so tokens survive restarts. `generated` tells the runner to print it for developers.
 */
export function resolveJwtSecret(opts: { jwtSecret?: string; dataDir: string }): { secret: string; file?: string } {
  if (opts.jwtSecret) {
    if (Buffer.byteLength(opts.jwtSecret) < MIN_SECRET_BYTES) {
      throw new Error(`JWT_SECRET must be at least ${MIN_SECRET_BYTES} bytes for HS256`);
    }
    return { secret: opts.jwtSecret };
  }
  const file = path.join(opts.dataDir, "dev-jwt-secret");
  fs.mkdirSync(opts.dataDir, { recursive: true });
  try {
    fs.writeFileSync(file, crypto.randomBytes(32).toString("base64url"), { flag: "wx", mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  return { secret: fs.readFileSync(file, "utf8").trim(), file };
}
