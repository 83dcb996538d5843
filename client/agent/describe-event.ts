/**
 * One human-readable line per agent event, the same words in `2pm node start` and the browser
 * node's page. Rounds and attempts are counted from 1, as everywhere people read them.
 */
import type { AgentEvent } from "./agent.ts";

/** The line for an event (no timestamp). Total over every event kind; never throws. */
export function describeEvent(e: AgentEvent): string {
  const r = "jobId" in e ? `${e.jobId} round ${e.round + 1} attempt ${e.attempt + 1}` : "";
  switch (e.kind) {
    case "registered": return `registered as ${e.nodeId}; datasets: ${e.datasets.map((d) => `${d.schemaId} (${d.rows} rows, commitment ${d.commitment.slice(0, 12)}…)`).join(", ")}`;
    case "assignment": return `${r}: selected as party ${e.index} of ${e.committee}`;
    case "computed": return `${r}: local contribution ready (${e.length} field elements, ${e.ms.toFixed(0)} ms)`;
    case "phase": return `${r}: phase ${e.phase}`;
    case "round-done": return `${r}: accepted${e.excluded.length ? ` (excluded parties ${e.excluded.join(",")})` : ""} in ${e.ms.toFixed(0)} ms`;
    case "round-aborted": return `${r}: aborted: ${e.code}${e.culprits.length ? ` (culprits ${e.culprits.join(",")})` : ""}`;
    case "rejected": return `${r}: declined: ${e.detail}`;
    case "warning": return `warning: ${e.detail}`;
  }
}
