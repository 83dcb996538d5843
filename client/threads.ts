/**
 * Worker threads of the Node client (the MASCOT party thread, the CKKS encryption and
 * evaluation pools, the encrypted-training compute thread): one way to start a thread on a
 * module that sits beside its caller, from source or from the built package.
 */
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Worker, type WorkerOptions } from "node:worker_threads";

/**
 * Starts a worker thread on the module `name` beside the caller (`here` = the caller's
 * `import.meta.url`): `name.ts` through tsx when the caller runs from source (tsx may add a
 * ?query to the URL, so only the path is looked at), `name.js` beside a built copy
 * (scripts/build-client.ts emits one per thread module). `options.workerData` is cloned by
 * `new Worker` before this returns. Throws what `new Worker` throws (a missing module, data
 * that cannot be cloned).
 */
export function startThread(here: string, name: string, options: Omit<WorkerOptions, "execArgv"> = {}): Worker {
  const ts = new URL(here).pathname.endsWith(".ts");
  const execArgv = ts ? ["--import", pathToFileURL(createRequire(here).resolve("tsx")).href] : [];
  return new Worker(new URL(`./${name}.${ts ? "ts" : "js"}`, here), { ...options, execArgv });
}
