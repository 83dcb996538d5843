/** Federated learning, protocol side (pure: no tfjs, no I/O). */
export * from "./spec.ts";
export * from "./flatten.ts";
export * from "./aggregate.ts";
export * from "./server.ts";
export * from "./stopping.ts";
export * from "./bounds.ts";
export * from "./features.ts";
export * from "./dense.ts";
export * from "./job.ts";
export * from "./codec.ts";
