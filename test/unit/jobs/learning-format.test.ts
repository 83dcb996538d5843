import { describe, expect, it } from "vitest";
import { formatLearningResult } from "../../../protocol/jobs/learning-format.ts";

describe("formatLearningResult", () => {
  it("one line per evaluated model, the best marked, the newest listed even before evaluation", () => {
    const text = formatLearningResult({
      history: [
        { round: 0, loss: 0.6931, accuracy: 0.5, samples: 493, parties: 3 },
        { round: 1, loss: 0.5012, accuracy: 0.7951, samples: 493, parties: 3 },
        { round: 2, loss: null, accuracy: null, samples: 0, parties: 3 },
      ],
      bestRound: 1, latestModelRound: 3, stopReason: "max-rounds",
    }, "job-1");
    expect(text).toMatch(/^learning job job-1: 3 rounds aggregated, reached its round limit$/m);
    expect(text).toMatch(/^1 +0\.5012 +79\.51 % +493 +3 +← best$/m);
    expect(text).toMatch(/^2 +— +— +0 +3$/m);
    expect(text).toMatch(/^3 +\(newest model, not evaluated yet\)$/m);
    expect(text).toContain("best model: 1 (accuracy 79.51 %, loss 0.5012); newest model: 3");
  });
});
