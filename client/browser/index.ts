/**
 * `@2pm/node/browser` — the browser node as a library, for a data holder's own page: the
 * same agent as the CLI node with the browser's platform pieces (IndexedDB key store and
 * ledger, the browser AgentHost with key pinning, File-API data checks with the CLI's
 * commitment, the CLI's progress lines). The learning task loads tfjs only on a node's first
 * learning round (a separate chunk). /node/ on the coordinator is the ready-made page
 * (client/browser/node-app.ts); docs/browser-node.md.
 */
export { NodeAgent, type AgentEvent, type AgentOptions, type AgentHost } from "../agent/agent.ts";
export { NodePolicySchema, DEFAULT_POLICY, PolicyDeclined, type NodePolicy } from "../agent/policy.ts";
export { Ledger, type LedgerStore } from "../agent/ledger.ts";
export type { KeyStore, NodeKeys } from "../agent/keys.ts";
export { nodeIdFromPublicKey } from "../../protocol/crypto/identity.ts";
export { parseDatasetSchema, type DatasetSchema, type Row } from "../../protocol/stats/schema.ts";
export type { LoadedDataset } from "../data/source.ts";
export { checkDataText, parseSchemaText, type SchemaCheck } from "./dataset.ts";
export { openKv, IdbError, type KvStore } from "./idb.ts";
export { IdbKeyStore, KeyStoreError, webCryptoEd25519 } from "./idb-key-store.ts";
export { idbLedgerStore } from "./idb-ledger-store.ts";
export { browserHost, CoordinatorKeyError } from "./host.ts";
export { acceptConsortium } from "../../protocol/consortium.ts";
export { describeEvent, foldProgress, type RoundProgress } from "./progress.ts";
