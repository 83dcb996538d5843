/**
 * What the page's main script has in place of client/agent/tasks/learning.ts (aliased by
 * scripts/build-browser-node.ts): the learning task lives in a second bundle with tfjs,
 * /node/learning.js, fetched only when this node first runs a learning round, checked
 * against the SHA-256 the build baked in (Subresource Integrity) and allowed by the page's
 * CSP by the same hash.
 */
import type { LearningModule } from "./learning-entry.ts";

/** Set by the build (esbuild `define`): the learning bundle's integrity value. */
declare const __LEARNING_INTEGRITY__: string;

let loading: Promise<LearningModule> | undefined;

/**
 * Loads the learning bundle once (concurrent callers share the load). Rejects with an Error
 * naming the cause when the script cannot be fetched, fails its integrity check, or does not
 * publish the module; a later call tries again.
 */
export function loadLearning(): Promise<LearningModule> {
  loading ??= new Promise<LearningModule>((resolve, reject) => {
    const s = document.createElement("script");
    s.src = "/node/learning.js";
    s.integrity = __LEARNING_INTEGRITY__;
    s.onload = () => {
      const m = (globalThis as { __2pmLearning?: LearningModule }).__2pmLearning;
      if (m) resolve(m); else reject(new Error("the learning bundle loaded but did not register itself"));
    };
    s.onerror = () => reject(new Error("could not load the learning bundle /node/learning.js (network, CSP or integrity check)"));
    document.head.appendChild(s);
  }).catch((e: unknown) => { loading = undefined; throw e; });
  return loading;
}

/** The agent's learning task, run from the lazily loaded bundle (same signature and errors). */
export async function learningInput(...args: Parameters<LearningModule["learningInput"]>): ReturnType<LearningModule["learningInput"]> {
  return (await loadLearning()).learningInput(...args);
}
