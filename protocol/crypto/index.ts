/** protocol/crypto: identities, relay envelopes, signed requests, commitments. */
export * from "./identity.ts";
export * from "./envelope.ts";
export * from "./request.ts";
export * from "./commitment.ts";
