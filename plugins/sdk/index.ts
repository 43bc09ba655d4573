/** The publishing plugin SDK: the contract, typed errors, the HTTP base class and text helpers. */
export * from "./contract";
export * from "./errors";
export * from "./base";
export * from "./text";
