/**
 * `@2pm/node/querier` — encrypted inference: score rows against a model served by a 2PM
 * coordinator under CKKS encryption (SEAL in WASM). The secret key is generated and kept in
 * this process; the server sees only ciphertexts and public evaluation keys.
 */
export { inferRows, FheSession, httpTransport, localTransport, type InferRowsOptions, type InferResult } from "./fhe/client.ts";
export { buildPackage } from "./fhe/package.ts";
export { publicInfo, checkPublicInfo, type ModelPackage, type PublicModelInfo } from "./fhe/package.ts";
