/** Federated statistics: schema, query spec, contribution layout, encoding, finalisation. Pure. */
export * from "./schema.ts";
export * from "./query.ts";
export * from "./layout.ts";
export * from "./engine.ts";
export * from "./format.ts";
export * from "./compare.ts";
