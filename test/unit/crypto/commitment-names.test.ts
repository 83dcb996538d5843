import { describe, expect, it } from "vitest";
import { sha256 } from "@noble/hashes/sha2.js";
import { commit, verifyCommitment } from "../../../protocol/crypto/commitment.ts";
import { jobObjectName, roundObjectName } from "../../../protocol/names.ts";
import { concatBytes, utf8 } from "../../../protocol/encoding.ts";
import { seededRng } from "../../../protocol/rng.ts";

describe("commitments", () => {
  it("match SHA-256('2pm/commit/v1' ‖ nonce ‖ value) and refuse other values or nonces", () => {
    const v = utf8("sigma");
    const { commitment, opening } = commit(v, seededRng("c"));
    expect(commitment).toEqual(sha256(concatBytes(utf8("2pm/commit/v1"), opening, v)));
    expect(verifyCommitment(commitment, v, opening)).toBe(true);
    expect(verifyCommitment(commitment, utf8("sigmb"), opening)).toBe(false);
    const n2 = opening.slice(); n2[0]! ^= 1;
    expect(verifyCommitment(commitment, v, n2)).toBe(false);
    expect(verifyCommitment(commitment.subarray(1), v, opening)).toBe(false);
  });
});

describe("Durable Object names (pinned)", () => {
  it("are exactly job/<id> and round/<id>/<round>/<attempt>", () => {
    expect(jobObjectName("abc_DEF-1")).toBe("job/abc_DEF-1");
    expect(roundObjectName("abc", 3, 0)).toBe("round/abc/3/0");
    expect(roundObjectName("abc", 0, 12)).toBe("round/abc/0/12");
  });
  it("refuse ids that could collide or escape", () => {
    expect(() => jobObjectName("a/b")).toThrow(TypeError);
    expect(() => jobObjectName("")).toThrow(TypeError);
    expect(() => roundObjectName("a", -1, 0)).toThrow(RangeError);
    expect(() => roundObjectName("a", 0, 1.5)).toThrow(RangeError);
  });
});
