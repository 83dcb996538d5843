/**
 * A real local 2PM network for end-to-end tests and the demo: one local coordinator
 * (Miniflare: workerd, D1, R2, Durable Objects) and N node processes (`2pm node start`),
 * each holding its own slice of a dataset. Nothing is mocked.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseData, formatFromPath } from "../../client/data/parse.ts";
import { formatCsv, splitIndices } from "../../examples/split.ts";
import type { DatasetSchema, Row } from "../../protocol/stats/schema.ts";
import { parseSchemaText } from "../../client/data/source.ts";
import { ApiClient } from "../../client/api/client.ts";
import { encodeKeyFile } from "../../client/cli/keyfile.ts";
import { startCoordinator, type LocalCoordinator } from "./coordinator.ts";
import { startTcpProxy, type TcpProxy } from "./tcp-proxy.ts";
import { cryptoRng } from "../../protocol/rng.ts";
import { toBase64Url } from "../../protocol/encoding.ts";
import { identityPublicKey } from "../../protocol/crypto/identity.ts";

const ROOT = path.resolve(import.meta.dirname, "..", "..");
const BIN = path.join(ROOT, "client", "cli", "bin.mjs");

export type AgentEventLine = { t: number; kind: string; [k: string]: unknown };

export class NodeProcess {
  readonly events: AgentEventLine[] = [];
  readonly output: string[] = [];
  private waiters: Array<{ pred: (e: AgentEventLine) => boolean; resolve: (e: AgentEventLine) => void }> = [];
  child: ChildProcess | undefined;
  nodeId = "";

  /** `bin`: the CLI script the node runs (`node <bin> node start …`): the repository's bin.mjs or an installed package's dist/cli.mjs. */
  constructor(readonly name: string, readonly dir: string, readonly slices: Array<{ schema: DatasetSchema; path: string; rows: Row[] }>, private readonly onLine?: (node: string, line: string) => void, readonly bin: string = BIN) {}

  /** Starts `2pm node start --json`; resolves once the node has registered. */
  async start(env: Record<string, string> = {}): Promise<void> {
    const child = spawn(process.execPath, [this.bin, "node", "start", "--dir", this.dir, "--json"], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    this.child = child;
    let buf = "";
    child.stdout!.on("data", (b: Buffer) => {
      buf += b.toString();
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        this.output.push(line);
        this.onLine?.(this.name, line);
        try {
          const e = JSON.parse(line) as AgentEventLine;
          this.events.push(e);
          if (e.kind === "registered") this.nodeId = String(e.nodeId);
          this.waiters = this.waiters.filter((w) => (w.pred(e) ? (w.resolve(e), false) : true));
        } catch { /* not an event line */ }
      }
    });
    child.stderr!.on("data", (b: Buffer) => {
      for (const line of b.toString().split("\n").filter(Boolean)) {
        this.output.push(line);
        this.onLine?.(this.name, line);
      }
    });
    await this.waitFor((e) => e.kind === "registered", 60_000);
  }

  /** Resolves with the first event (past or future) matching `pred`; rejects after `timeoutMs`. */
  waitFor(pred: (e: AgentEventLine) => boolean, timeoutMs = 120_000): Promise<AgentEventLine> {
    const hit = this.events.find(pred);
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve: (e: AgentEventLine) => { clearTimeout(t); resolve(e); } };
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`${this.name}: timed out waiting for an event; last output: ${this.output.slice(-5).join(" | ")}`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  /** Kills the process (SIGKILL: no goodbye to the coordinator). */
  kill(): void {
    this.child?.kill("SIGKILL");
  }

  async stop(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    c.kill("SIGTERM");
    await new Promise<void>((r) => { const t = setTimeout(() => { c.kill("SIGKILL"); r(); }, 3000); c.once("exit", () => { clearTimeout(t); r(); }); });
  }
}

/** One dataset to deal out to the nodes. */
export interface ClusterDataset {
  /** Schema file (examples/schemas/*.json). */
  schemaFile: string;
  /** Data file to split among nodes. */
  dataFile: string;
  /** Non-IID split by this categorical column. */
  splitBy?: string;
  /** Limit each slice to this many rows (for speed). */
  maxRowsPerNode?: number;
  /** Rows to deal instead of the whole data file (e.g. with a querier's hold-out removed). */
  rows?: Row[];
  /**
   * Register the slices under this schema name instead of the file's (a copy of the schema is
   * written under it), so one node can hold two splits of the same data (e.g. IID and by class).
   */
  asSchema?: string;
}

export interface ClusterOptions {
  nodes: number;
  datasets: ClusterDataset[];
  seed?: string;
  /** Per-node environment (e.g. a test-only TWOPM_FAULT for one node). */
  nodeEnv?: (i: number) => Record<string, string>;
  apiToken?: string;
  /** Seconds a silent node stays eligible (nodes heartbeat every 2 s here). */
  livenessSeconds?: number;
  /** Print node output lines as they come (the demo). */
  onNodeLine?: (node: string, line: string) => void;
  /** Extra coordinator bindings (e.g. ALLOW_PLAINTEXT_AGGREGATION for the learning bench). */
  coordinatorVars?: Record<string, string>;
  /**
   * Node policy overrides (client/agent/policy.ts) written into every node's node.json, e.g.
   * `{ modes: [..., "plaintext"] }` for the learning bench's baseline. Every node trusts the
   * cluster's submitter key (`Cluster.submitterKey`), which signs what `operator.submitJob` sends.
   */
  nodePolicy?: Record<string, unknown> | ((i: number) => Record<string, unknown>);
  /** The CLI script nodes run (default: the repository's client/cli/bin.mjs), e.g. an installed @2pm/node's dist/cli.mjs. */
  nodeBin?: string;
  /** Indices of nodes that reach the coordinator through their own TCP proxy (`Cluster.proxies`), so a test can cut their network. */
  proxiedNodes?: number[];
}

export interface Cluster {
  coordinator: LocalCoordinator;
  operator: ApiClient;
  nodes: NodeProcess[];
  schemas: DatasetSchema[];
  workDir: string;
  /** The submitter key every node's policy accepts (the operator signs with it). */
  submitterKey: { secretKey: Uint8Array; publicKeyB64: string; /** key file for `2pm job submit` (TWOPM_SUBMITTER_KEY) */ file: string };
  /** Node name (`node-<i>`) → the TCP proxy it reaches the coordinator through ({@link ClusterOptions.proxiedNodes}). */
  proxies: Map<string, TcpProxy>;
  /** Starts one more node (a fresh identity) holding the given rows per dataset. */
  addNode(slices: Row[][], env?: Record<string, string>): Promise<NodeProcess>;
  stop(): Promise<void>;
}

/** Reads a schema file and its data file, and deals the rows into `k` slices. */
export function sliceDataset(d: ClusterDataset, k: number, seed: string): { schema: DatasetSchema; slices: Row[][]; all: Row[] } {
  const schema = parseSchemaText(readFileSync(d.schemaFile, "utf8"), d.schemaFile);
  const all = d.rows ?? parseData(readFileSync(d.dataFile, "utf8"), schema, formatFromPath(d.dataFile), { file: d.dataFile });
  const slices = splitIndices(all, schema, { k, seed, ...(d.splitBy ? { by: d.splitBy } : {}) })
    .map((idx) => idx.slice(0, d.maxRowsPerNode ?? idx.length).map((i) => all[i]!));
  return { schema, slices, all };
}

/** Starts the coordinator and N registered node processes. Cleans everything up on failure. */
export async function startCluster(o: ClusterOptions): Promise<Cluster> {
  const workDir = mkdtempSync(path.join(os.tmpdir(), "2pm-cluster-"));
  const dealt = o.datasets.map((d) => {
    const sliced = sliceDataset(d, o.nodes, o.seed ?? "2pm-e2e");
    if (!d.asSchema) return { ...sliced, file: d.schemaFile };
    const file = path.join(workDir, `${d.asSchema}.schema.json`);
    writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(d.schemaFile, "utf8")), name: d.asSchema }));
    return { ...sliced, schema: { ...sliced.schema, name: d.asSchema }, file };
  });
  const apiToken = o.apiToken ?? `e2e-${Date.now()}`;
  const coordinator = await startCoordinator({ apiToken, vars: { LIVENESS_WINDOW_S: String(o.livenessSeconds ?? 10), ...o.coordinatorVars } });
  const submitterSecret = cryptoRng.bytes(32);
  const submitterKey = { secretKey: submitterSecret, publicKeyB64: toBase64Url(identityPublicKey(submitterSecret)), file: path.join(workDir, "submitter.json") };
  // The same key as a `2pm submitter` key file, for CLI runs (TWOPM_SUBMITTER_KEY).
  writeFileSync(submitterKey.file, encodeKeyFile("2pm-submitter-key", submitterSecret), { mode: 0o600 });
  const nodes: NodeProcess[] = [];
  const proxies = new Map<string, TcpProxy>();
  let counter = 0;
  const addNode = async (rowsPerDataset: Row[][], env: Record<string, string> = {}): Promise<NodeProcess> => {
    const i = counter++;
    const dir = path.join(workDir, `node-${i}`);
    mkdirSync(dir, { recursive: true });
    const slices = dealt.map((d, k) => {
      const p = path.join(dir, `${d.schema.name}.csv`);
      writeFileSync(p, formatCsv(d.schema, rowsPerDataset[k] ?? []));
      return { schema: d.schema, path: p, rows: rowsPerDataset[k] ?? [], schemaFile: d.file };
    });
    const first = slices[0]!;
    let url = coordinator.url;
    if (o.proxiedNodes?.includes(i)) {
      const proxy = await startTcpProxy(coordinator.url);
      proxies.set(`node-${i}`, proxy);
      url = proxy.url;
    }
    const init = spawnSync(process.execPath, [o.nodeBin ?? BIN, "node", "init", "--dir", dir, "--coordinator", url, "--source", first.path, "--schema", first.schemaFile, "--label", `node-${i}`, `--trust-submitter=${submitterKey.publicKeyB64}`], { cwd: ROOT, encoding: "utf8" });
    if (init.status !== 0) throw new Error(`node init failed: ${init.stderr}`);
    const cfgPath = path.join(dir, "node.json");
    const cfg = JSON.parse(readFileSync(cfgPath, "utf8")) as { heartbeatSeconds?: number; sources: unknown[]; policy: Record<string, unknown> };
    cfg.heartbeatSeconds = 2;
    cfg.policy = { ...cfg.policy, ...(typeof o.nodePolicy === "function" ? o.nodePolicy(i) : o.nodePolicy) };
    cfg.sources = slices.map((s) => ({ path: s.path, format: "csv", schema: s.schemaFile }));
    writeFileSync(cfgPath, JSON.stringify(cfg, null, 2));
    const n = new NodeProcess(`node-${i}`, dir, slices, o.onNodeLine, o.nodeBin ?? BIN);
    nodes.push(n);
    await n.start(env);
    return n;
  };
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await Promise.all([...proxies.values()].map((p) => p.close()));
    await coordinator.stop();
    rmSync(workDir, { recursive: true, force: true });
  };
  try {
    await Promise.all(Array.from({ length: o.nodes }, (_, i) => addNode(dealt.map((d) => d.slices[i]!), o.nodeEnv?.(i) ?? {})));
  } catch (e) {
    await stop();
    throw e;
  }
  return { coordinator, operator: new ApiClient({ baseUrl: coordinator.url, token: apiToken, submitterSecretKey: submitterKey.secretKey }), nodes, schemas: dealt.map((d) => d.schema), workDir, submitterKey, proxies, addNode, stop };
}
