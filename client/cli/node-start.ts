/**
 * `2pm node start`: loads the node's keys, config and data sources, registers with the
 * coordinator, heartbeats, and serves rounds until interrupted, printing what it is doing.
 * The coordinator's log key is pinned on first start (`coordinator-key.json`) and checked
 * on every later start.
 */
import { PartyThread } from "../agent/party-thread.ts";
import { nodeEd25519 } from "../agent/native-ed25519.ts";
import { setNativeEd25519 } from "../../protocol/crypto/identity.ts";
import { nodeXChaCha20Poly1305 } from "../agent/native-xchacha.ts";
import { setNativeXChaCha20Poly1305 } from "../../protocol/crypto/envelope.ts";
import { describeEvent } from "../agent/describe-event.ts";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fromBase64Url, toBase64Url, bytesEqual } from "../../protocol/encoding.ts";
import { parseNodeConfig, type NodeConfig } from "../agent/config.ts";
import { FileKeyStore } from "../agent/node-key-store.ts";
import { NodeAgent, type AgentEvent, type AgentHooks } from "../agent/agent.ts";
import { watchDataSource, type LoadedDataset } from "../data/source.ts";
import { loadSchemaFile, nodeFsAdapter } from "../data/node-fs.ts";
import type { NodeClient } from "../agent/node-client.ts";
import { parse } from "./args.ts";
import { Ledger, type LedgerStore } from "../agent/ledger.ts";
import type { NodePolicy } from "../agent/policy.ts";
import { acceptConsortium, ConsortiumError, type AcceptedListStore, type Membership } from "../../protocol/consortium.ts";
import { CliError } from "./errors.ts";
import { jsonOption } from "./output.ts";
import { Progress } from "./progress.ts";

/** TWOPM_FAULT (test-only): loads the testing module only when a fault is asked for. Throws CliError for an unknown fault. */
async function testFaultHooks(v: string): Promise<AgentHooks> {
  const { faultFromEnv, faultHooks } = await import("../agent/testing/faults.ts");
  try {
    return faultHooks(faultFromEnv(v));
  } catch (e) {
    throw new CliError((e as Error).message);
  }
}

/** Writes `text` to `file` atomically (temp file + rename), mode 0600. */
async function writeFileAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, text, { mode: 0o600 });
  await fs.rename(tmp, file);
}

/** A ledger file written atomically (temp file + rename), mode 0600. */
export function fileLedgerStore(file: string): LedgerStore {
  return {
    load: () => fs.readFile(file, "utf8").catch((e: NodeJS.ErrnoException) => { if (e.code === "ENOENT") return null; throw e; }),
    save: (text) => writeFileAtomic(file, text),
  };
}

/**
 * The node's memory of accepted consortium lists (protocol/consortium.ts AcceptedListStore):
 * one JSON object in `file`, written atomically. Throws CliError when the file exists but is
 * not a JSON object (the node then refuses to start rather than forget what it accepted).
 */
export function fileAcceptedListStore(file: string): AcceptedListStore {
  const read = async (): Promise<Record<string, unknown>> => {
    let text: string;
    try { text = await fs.readFile(file, "utf8"); } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return {};
      throw new CliError(`cannot read ${file}: ${(e as Error).message}`);
    }
    let v: unknown;
    try { v = JSON.parse(text); } catch { v = null; }
    if (typeof v !== "object" || v === null || Array.isArray(v)) throw new CliError(`${file} is damaged (not a JSON object); it records the newest consortium list this node accepted — restore it, or remove it only if you trust the list you are starting with`);
    return v as Record<string, unknown>;
  };
  return {
    get: async <T>(key: string): Promise<T | undefined> => {
      const all = await read();
      return Object.hasOwn(all, key) ? (all[key] as T) : undefined;
    },
    put: async (key, value) => {
      const all = await read();
      all[key] = value;
      await writeFileAtomic(file, JSON.stringify(all, null, 2) + "\n");
    },
  };
}

/** Where a node directory remembers the newest consortium list it accepted per admin key. */
export const ACCEPTED_LISTS_FILE = "consortium-accepted.json";

/**
 * Loads and verifies the consortium list the policy names (relative to the config directory
 * `base`), refusing a list older than the newest one this node accepted before from the same
 * admin (remembered in `base`/{@link ACCEPTED_LISTS_FILE}), as the browser node does.
 * Throws CliError for an unreadable, unverifiable or rolled-back list.
 */
export async function loadMembership(policy: NodePolicy, base: string): Promise<Membership | undefined> {
  if (!policy.consortium) return undefined;
  const file = path.resolve(base, policy.consortium.list);
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (e) {
    throw new CliError(`cannot read consortium list ${file}: ${(e as Error).message}`);
  }
  try {
    return await acceptConsortium(fileAcceptedListStore(path.join(base, ACCEPTED_LISTS_FILE)), text, file, policy.consortium.adminKey);
  } catch (e) {
    if (e instanceof ConsortiumError) throw new CliError(`${file}: ${e.message}`);
    throw e;
  }
}

/** Reads and parses `<dir>/node.json`. Throws CliError naming the file for a missing, unreadable or invalid config. */
export async function readNodeConfig(dir: string): Promise<NodeConfig> {
  const file = path.join(dir, "node.json");
  try {
    return parseNodeConfig(await fs.readFile(file, "utf8"));
  } catch (e) {
    throw new CliError(`${file}: ${(e as Error).message}`);
  }
}

export async function nodeStart(args: string[]): Promise<number> {
  const { values } = parse(args, { dir: { type: "string", default: ".2pm" }, ...jsonOption }, false);
  // envelopes are signed, verified, encrypted and decrypted by OpenSSL, not pure-JS SHA-512 / ChaCha
  setNativeEd25519(nodeEd25519);
  setNativeXChaCha20Poly1305(nodeXChaCha20Poly1305);
  const dir = path.resolve(values.dir!);
  const configPath = path.join(dir, "node.json");
  const config = await readNodeConfig(dir);
  const keys = await new FileKeyStore(path.join(dir, "keys.json")).load();
  if (!keys) throw new CliError(`no key file in ${dir}; run 2pm node init first`);
  // The ledger's entries are signed with the node's own identity key (tamper-evident; docs/node-policy.md).
  const ledger = await Ledger.open(fileLedgerStore(path.join(dir, "ledger.json")), { signingKey: keys.identitySecretKey }).catch((e: unknown) => { throw new CliError(`${path.join(dir, "ledger.json")}: ${(e as Error).message}`); });
  const membership = await loadMembership(config.policy, path.dirname(configPath));
  const adapter = nodeFsAdapter();
  const cfgs = await Promise.all(config.sources.map(async (s) => ({ path: s.path, format: s.format, schema: await loadSchemaFile(s.schema) })));
  let agent: NodeAgent | undefined;
  const watchers = cfgs.map((c, i) => watchDataSource(adapter, c, {
    onChange: (ds) => {
      if (!agent || datasets[i]?.commitment.digest === ds.commitment.digest) return;
      datasets[i] = ds;
      agent.updateDatasets([...datasets]);
      print({ kind: "warning", detail: `${c.path} changed; new commitment ${ds.commitment.digest.slice(0, 12)}…` });
    },
    onError: (err) => print({ kind: "warning", detail: `${c.path}: ${(err as Error).message}; keeping the previous data` }),
  }));
  let datasets: LoadedDataset[];
  try {
    datasets = await Promise.all(watchers.map((w) => w.ready));
  } catch (e) {
    for (const w of watchers) w.stop();
    throw new CliError((e as Error).message);
  }
  // On a terminal, MPC phases update one status line (rounds done, the current round and phase); every other event is a line.
  const bar = new Progress(process.stdout, !values.json);
  let roundsDone = 0;
  const print = (e: AgentEvent) => {
    if (values.json) { console.log(JSON.stringify({ t: Date.now(), ...e })); return; }
    if (e.kind === "phase" && bar.drawing) {
      bar.update({ done: roundsDone, total: null, phase: `${roundsDone} round${roundsDone === 1 ? "" : "s"} done · job ${e.jobId.slice(0, 8)} round ${e.round + 1} attempt ${e.attempt + 1}: ${e.phase}`, etaMs: null });
      return;
    }
    if (e.kind === "round-done") roundsDone++;
    bar.line(`[${new Date().toISOString().slice(11, 19)}] ${describeEvent(e)}`);
  };
  const pinFile = path.join(dir, "coordinator-key.json");
  agent = new NodeAgent({
    coordinatorUrl: config.coordinatorUrl,
    keys,
    label: config.label,
    datasets,
    heartbeatSeconds: config.heartbeatSeconds,
    onEvent: print,
    ...(process.env.TWOPM_FAULT ? { hooks: await testFaultHooks(process.env.TWOPM_FAULT) } : {}),
    // Protocol steps run in a worker thread, so the relay keeps hearing this node while it computes (TWOPM_PARTY_THREAD=0: in the main thread).
    ...(process.env.TWOPM_PARTY_THREAD === "0" ? {} : { partyThread: new PartyThread() }),
    policy: config.policy,
    ledger,
    ...(membership ? { membership } : {}),
    host: {
      capabilities: config.capabilities,
      conditions: () => ({ load: os.loadavg()[0]!, freeMemoryMb: Math.floor(os.freemem() / 2 ** 20), onBattery: false, online: true }),
      coordinatorKey: async (client: NodeClient) => {
        const key = fromBase64Url((await client.coordinatorKey()).publicKey);
        // Never trust the public development key (its secret is derivable) unless told to, for local development.
        const { assertAcceptableCoordinatorKey } = await import("../../protocol/crypto/dev-key.ts");
        try {
          assertAcceptableCoordinatorKey(key, { allowDevKey: process.env.TWOPM_ALLOW_DEV_COORDINATOR_KEY === "1" });
        } catch (e) {
          throw new CliError(`${(e as Error).message}; set TWOPM_ALLOW_DEV_COORDINATOR_KEY=1 to accept it for local development only`);
        }
        const pinned = await fs.readFile(pinFile, "utf8").then((t) => fromBase64Url((JSON.parse(t) as { publicKey: string }).publicKey), () => null);
        if (pinned && !bytesEqual(pinned, key)) throw new CliError(`the coordinator's log key changed since it was pinned in ${pinFile}; refusing to continue`);
        if (!pinned) await fs.writeFile(pinFile, JSON.stringify({ publicKey: toBase64Url(key), pinnedAt: new Date().toISOString() }) + "\n");
        return key;
      },
    },
  });
  const running = agent;
  const shutdown = () => { bar.end(); for (const w of watchers) w.stop(); void running.stop(true).finally(() => process.exit(0)); };
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
  await agent.run();
  return 0;
}
