/**
 * The browser's AgentHost (client/agent/agent.ts): capabilities and conditions from what the
 * browser reports, and the coordinator's log key pinned in IndexedDB on first use and
 * checked on every later start, as the CLI pins it in `coordinator-key.json`.
 */
import type { AgentHost } from "../agent/agent.ts";
import type { NodeClient } from "../agent/node-client.ts";
import { assertAcceptableCoordinatorKey } from "../../protocol/crypto/dev-key.ts";
import { bytesEqual, fromBase64Url, toBase64Url } from "../../protocol/encoding.ts";
import { CodedError, type KvStore } from "./idb.ts";

/** The coordinator's key changed since it was pinned, or is not acceptable. `code` is stable. */
export class CoordinatorKeyError extends CodedError<"coordinator-key-changed" | "coordinator-key-refused"> { override name = "CoordinatorKeyError"; }

interface NavigatorExtras { deviceMemory?: number; connection?: { downlink?: number }; getBattery?: () => Promise<{ charging: boolean; addEventListener(t: string, f: () => void): void }> }

/** Where the pin for `coordinatorUrl` is kept (one pin per coordinator origin). */
export function pinRecord(coordinatorUrl: string): string {
  return `coordinator-key:${new URL(coordinatorUrl).origin}`;
}

/**
 * A host for the node agent in a page. `allowDevKey` accepts the public development log key
 * (local development only). `coordinatorKey` throws CoordinatorKeyError when the coordinator's
 * key differs from the pinned one or is the development key without `allowDevKey`.
 */
export function browserHost(kv: KvStore, coordinatorUrl: string, opts: { allowDevKey: boolean }): AgentHost {
  const nav = navigator as Navigator & NavigatorExtras;
  const memoryMb = Math.max(64, Math.round((nav.deviceMemory ?? 2) * 1024));
  let onBattery = false;
  void nav.getBattery?.().then((b) => {
    onBattery = !b.charging;
    b.addEventListener("chargingchange", () => { onBattery = !b.charging; });
  }).catch(() => undefined);
  return {
    capabilities: {
      cores: Math.max(1, nav.hardwareConcurrency || 1),
      memoryMb,
      bandwidthMbps: Math.max(1, nav.connection?.downlink ?? 10),
      availability: { fromHourUtc: 0, toHourUtc: 24 },
    },
    // A page cannot read the machine's load or free memory: report none and the device memory class.
    conditions: () => ({ load: 0, freeMemoryMb: memoryMb, onBattery, online: navigator.onLine }),
    coordinatorKey: async (client: NodeClient) => {
      const key = fromBase64Url((await client.coordinatorKey()).publicKey);
      try {
        assertAcceptableCoordinatorKey(key, opts);
      } catch (e) {
        throw new CoordinatorKeyError("coordinator-key-refused", (e as Error).message);
      }
      const rec = pinRecord(coordinatorUrl);
      const pinned = await kv.get<{ publicKey: string; pinnedAt: string }>(rec);
      if (pinned && !bytesEqual(fromBase64Url(pinned.publicKey), key)) {
        throw new CoordinatorKeyError("coordinator-key-changed", `the coordinator's log key changed since it was pinned on ${pinned.pinnedAt}; refusing to continue`);
      }
      if (!pinned) await kv.put(rec, { publicKey: toBase64Url(key), pinnedAt: new Date().toISOString() });
      return key;
    },
  };
}
