/** Bearer tokens in call metadata, authenticated exactly as the REST gateway authenticates its Authorization header. */
import type { Metadata } from "@grpc/grpc-js";
import { bearerFrom, type AuthUser } from "../../lib/auth";
import type { Authenticator } from "../../lib/authenticator";
import { UnauthorizedError } from "../../lib/errors";

export class MetadataAuthenticator {
  constructor(private readonly authenticator: Authenticator) {}

  /**
   * The user of `authorization: Bearer <jwt>`; UnauthorizedError (→ UNAUTHENTICATED) without a valid token,
   * ForbiddenError (→ PERMISSION_DENIED) for a token naming a team the user is not a member of.
   */
  async authenticate(metadata: Metadata): Promise<AuthUser> {
    const [header] = metadata.get("authorization");
    const token = bearerFrom(typeof header === "string" ? header : undefined);
    if (!token) throw new UnauthorizedError();
    return this.authenticator.authenticate(token);
  }
}
