/** Bearer tokens in call metadata, verified exactly as the REST gateway verifies its Authorization header. */
import type { Metadata } from "@grpc/grpc-js";
import { bearerFrom, verifyToken, type AuthUser } from "../../lib/auth";
import { UnauthorizedError } from "../../lib/errors";
import { TokenCache } from "../../lib/token-cache";

export class MetadataAuthenticator {
  private readonly tokens = new TokenCache();

  constructor(private readonly secret: () => string) {}

  /** The user of `authorization: Bearer <jwt>`; UnauthorizedError (→ UNAUTHENTICATED) otherwise. */
  async authenticate(metadata: Metadata): Promise<AuthUser> {
    const [header] = metadata.get("authorization");
    const token = bearerFrom(typeof header === "string" ? header : undefined);
    if (!token) throw new UnauthorizedError();
    const cached = this.tokens.get(token);
    if (cached) return cached;
    const user = await verifyToken(this.secret(), token);
    this.tokens.set(token, user);
    return user;
  }
}
