/**
 * Smoke run of the hostile-input suite inside the default `npm test`: ~1,500 of the generated REST cases
 * (spread over every route and category) and a smaller gRPC set. The full run is hostile.rel.ts.
 */
import { defineHostileSuite } from "./hostile/suite";

jest.setTimeout(180_000);

defineHostileSuite({ restSample: 1_500, grpcRandomPerRpc: 2, minRest: 1_500, minGrpc: 200 });
