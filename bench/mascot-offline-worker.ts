/**
 * Worker for bench/mascot-offline.ts "parallel" rows: hosts one OfflineParty in its own
 * thread (like one MP-SPDZ process per party); the main thread relays messages.
 */
import { parentPort, workerData } from "node:worker_threads";
import { fieldByName } from "../protocol/field/index.ts";
import { OfflineParty, type OfflineInbound } from "../protocol/mascot/offline.ts";
import { cryptoRng } from "../protocol/rng.ts";

const { field, n, me, count, batchSize, sid } = workerData as { field: string; n: number; me: number; count: number; batchSize: number; sid: Uint8Array };
const party = new OfflineParty({ field: fieldByName(field), parties: n, me, sessionId: sid, count, batchSize }, cryptoRng);
let chain: Promise<void> = Promise.resolve();
const send = (outs: ReturnType<OfflineParty["start"]>) => {
  parentPort!.postMessage({ kind: "out", outs, done: party.done, bytes: party.bytesSent });
};
parentPort!.on("message", (msg: { kind: "start" } | { kind: "in"; m: OfflineInbound }) => {
  chain = chain.then(async () => {
    if (msg.kind === "start") send(party.start());
    else send(await party.receiveAsync(msg.m));
  }).catch((e: unknown) => parentPort!.postMessage({ kind: "error", message: String(e) }));
});
