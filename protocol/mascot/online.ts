import type { Rng } from "../rng.ts";
import type { FieldVec } from "../field/types.ts";
import type { Transcript } from "./echo.ts";
import type { OutboundMessage, SecureSumConfig, SecureSumResult, Step } from "./party.ts";
export interface ValidatedEngine { steps: Step[]; start(): OutboundMessage[] }
export function buildValidatedSteps(_cfg: SecureSumConfig, _input: FieldVec, _rng: Rng, _t: Transcript, _done: (r: SecureSumResult) => void): ValidatedEngine {
  throw new Error("not yet");
}
