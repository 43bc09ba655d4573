/**
 * Full hostile-input run (`npm run test:reliability`): ≥ 10,000 REST requests generated from the live
 * OpenAPI document and ≥ 500 malformed gRPC messages against one runner with every service on PostgreSQL.
 */
import { defineHostileSuite } from "./hostile/suite";

jest.setTimeout(900_000);

defineHostileSuite({ grpcRandomPerRpc: 12, minRest: 10_000, minGrpc: 500 });
