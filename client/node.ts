/**
 * `@2pm/node` — the node entry: run a 2PM data holder from your own program instead of the
 * CLI. Everything a node needs: its configuration, keys, policy, ledger, data loading with
 * commitments, and the agent that registers, checks each round against its policy and the
 * signed log, and takes part in MASCOT rounds.
 */
export { NodeAgent, type AgentEvent, type AgentOptions, type AgentHost } from "./agent/agent.ts";
export { parseNodeConfig, NodeConfigSchema, type NodeConfig, type DataSourceConfig } from "./agent/config.ts";
export { NodePolicySchema, DEFAULT_POLICY, checkPolicy, PolicyDeclined, type NodePolicy, type DeclineCode } from "./agent/policy.ts";
export { Ledger, memoryLedgerStore, type LedgerStore } from "./agent/ledger.ts";
export { FileKeyStore } from "./agent/node-key-store.ts";
export { encodeKeyFile, decodeKeyFile, type KeyStore, type NodeKeys } from "./agent/keys.ts";
export { generateNodeKeys, nodeIdFromPublicKey } from "../protocol/crypto/identity.ts";
export { parseDatasetSchema, type DatasetSchema, type Row } from "../protocol/stats/schema.ts";
export { loadSchemaFile } from "./data/node-fs.ts";
