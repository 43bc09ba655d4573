/** Error → gRPC status mapping (services/grpc/status.ts), as ARCHITECTURE.md "Gateways" specifies it. */
import { status as Code } from "@grpc/grpc-js";
import { Errors } from "moleculer";
import {
  ConflictError,
  ForbiddenError,
  NotFoundError,
  ServiceUnavailableError,
  TooManyRequestsError,
  UnauthorizedError,
  UnprocessableError,
} from "../../lib/errors";
import { toGrpcStatus } from "../../services/grpc/status";

function details(err: unknown) {
  const trailer = toGrpcStatus(err).trailers["error-details-bin"] as Buffer;
  return JSON.parse(trailer.toString("utf8"));
}

describe("toGrpcStatus", () => {
  it.each([
    ["UnauthorizedError", new UnauthorizedError(), Code.UNAUTHENTICATED],
    ["ForbiddenError", new ForbiddenError("no", { role: "viewer" }), Code.PERMISSION_DENIED],
    ["NotFoundError", new NotFoundError("campaign", "c1"), Code.NOT_FOUND],
    ["ConflictError (generic)", new ConflictError("already launched"), Code.FAILED_PRECONDITION],
    ["ConflictError (type says exists)", new ConflictError("taken", undefined, "ALREADY_EXISTS"), Code.ALREADY_EXISTS],
    ["ConflictError (type ends in EXISTS)", new ConflictError("taken", undefined, "SLUG_EXISTS"), Code.ALREADY_EXISTS],
    ["413", new Errors.MoleculerClientError("too big", 413, "PAYLOAD_TOO_LARGE"), Code.INVALID_ARGUMENT],
    ["400", new Errors.MoleculerClientError("bad", 400, "BAD_REQUEST"), Code.INVALID_ARGUMENT],
    ["TooManyRequestsError", new TooManyRequestsError("slow down", 30), Code.RESOURCE_EXHAUSTED],
    ["ServiceUnavailableError", new ServiceUnavailableError("The database is unavailable"), Code.UNAVAILABLE],
    ["ServiceNotFoundError", new Errors.ServiceNotFoundError({ action: "campaigns.get" }), Code.UNAVAILABLE],
    ["ServiceNotAvailableError", new Errors.ServiceNotAvailableError({ action: "campaigns.get", nodeID: "n1" }), Code.UNAVAILABLE],
    ["a retryable 500", new Errors.MoleculerRetryableError("flaky", 500, "FLAKY"), Code.UNAVAILABLE],
    ["RequestTimeoutError", new Errors.RequestTimeoutError({ action: "campaigns.get", nodeID: "n1" }), Code.DEADLINE_EXCEEDED],
  ])("maps %s", (_name, err, code) => {
    const status = toGrpcStatus(err);
    expect(status.code).toBe(code);
    expect(status.internal).toBe(false);
  });

  it("keeps the client message and the REST error body for client errors", () => {
    const err = new NotFoundError("campaign", "c1");
    expect(toGrpcStatus(err).details).toBe(err.message);
    expect(details(err)).toEqual({ type: "NOT_FOUND", code: 404, message: err.message, data: { entity: "campaign", id: "c1" } });
  });

  it("names the invalid fields in the message and in error-details-bin", () => {
    const err = new Errors.ValidationError("Parameters validation error!", "VALIDATION_ERROR", [
      { type: "required", field: "name", message: "The 'name' field is required.", actual: undefined },
      { type: "enumValue", field: "type", message: "The 'type' field must be one of: ppv.", actual: "x".repeat(10_000) },
    ]);
    const status = toGrpcStatus(err);
    expect(status.code).toBe(Code.INVALID_ARGUMENT);
    expect(status.details).toBe("Parameters validation error! name: The 'name' field is required.; type: The 'type' field must be one of: ppv.");
    // The echoed value (`actual`) stays out: metadata must stay small.
    expect(details(err).data).toEqual([
      { field: "name", message: "The 'name' field is required.", type: "required" },
      { field: "type", message: "The 'type' field must be one of: ppv.", type: "enumValue" },
    ]);
  });

  it("treats the project's 422 (UnprocessableError) as validation too", () => {
    const err = new UnprocessableError("The key \"__proto__\" is not allowed", [
      { field: "content.__proto__", message: "\"__proto__\" is a reserved key", type: "forbiddenKey" },
    ]);
    const status = toGrpcStatus(err);
    expect(status.code).toBe(Code.INVALID_ARGUMENT);
    expect(status.details).toContain("content.__proto__");
  });

  it("keeps error details within metadata limits", () => {
    const problems = Array.from({ length: 500 }, (_, i) => ({ field: `f${i}`, message: "m".repeat(200), type: "x" }));
    const status = toGrpcStatus(new UnprocessableError("bad", problems));
    expect(status.details.length).toBeLessThanOrEqual(1_000);
    expect((status.trailers["error-details-bin"] as Buffer).byteLength).toBeLessThanOrEqual(4_096);
  });

  it("sends retry-after with RESOURCE_EXHAUSTED and UNAVAILABLE", () => {
    expect(toGrpcStatus(new TooManyRequestsError("slow down", 30)).trailers["retry-after"]).toBe("30");
    expect(toGrpcStatus(new ServiceUnavailableError("down", { retryAfter: 2.5 })).trailers["retry-after"]).toBe("3");
    expect(toGrpcStatus(new Errors.ServiceNotFoundError({ action: "campaigns.get" })).trailers["retry-after"]).toBe("1");
  });

  it("hides which service is missing behind a generic UNAVAILABLE message", () => {
    const status = toGrpcStatus(new Errors.ServiceNotFoundError({ action: "campaigns.get" }));
    expect(status.details).toBe("The service is temporarily unavailable");
    expect(details(new Errors.ServiceNotFoundError({ action: "campaigns.get" })).type).toBe("SERVICE_UNAVAILABLE");
  });

  it.each([
    ["a plain Error", new Error("connect ECONNREFUSED 10.0.0.5:5432 password=hunter2")],
    ["a non-retryable 500", new Errors.MoleculerError("column x does not exist", 500, "DB")],
    ["a thrown string", "boom"],
    ["undefined", undefined],
  ])("answers INTERNAL with a generic message for %s", (_name, err) => {
    const status = toGrpcStatus(err);
    expect(status).toMatchObject({ code: Code.INTERNAL, details: "Internal server error", internal: true });
    expect(details(err)).toEqual({ type: "INTERNAL", code: 500, message: "Internal server error" });
  });
});
