/** The shared zod helpers of protocol/api/schemas.ts. */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { b64url, firstIssue, Key32, parseJsonText } from "../../../protocol/api/schemas.ts";
import { toBase64Url } from "../../../protocol/encoding.ts";

describe("schema helpers", () => {
  it("b64url(n) accepts exactly n bytes of unpadded base64url; Key32 is 32 bytes", () => {
    expect(Key32.safeParse(toBase64Url(new Uint8Array(32))).success).toBe(true);
    for (const n of [31, 33, 0]) expect(Key32.safeParse(toBase64Url(new Uint8Array(n))).success).toBe(false);
    expect(b64url(64).safeParse(toBase64Url(new Uint8Array(64))).success).toBe(true);
    expect(b64url(64).safeParse(`${toBase64Url(new Uint8Array(63))}+/`).success).toBe(false); // not the url alphabet
    expect(b64url().safeParse("").success).toBe(true);
  });

  it("firstIssue names the path of the first problem, (root) for the whole value", () => {
    const s = z.strictObject({ a: z.strictObject({ b: z.number() }) });
    expect(firstIssue(s.safeParse({ a: { b: "x" } }).error!)).toMatch(/^a\.b: /);
    expect(firstIssue(s.safeParse(5).error!)).toMatch(/^\(root\): /);
  });

  it("parseJsonText parses JSON then the schema, naming what and where it failed", () => {
    const s = z.strictObject({ port: z.number().int() });
    expect(parseJsonText(s, '{"port": 8}', "config")).toEqual({ port: 8 });
    expect(() => parseJsonText(s, "{", "config")).toThrow(new TypeError("config is not valid JSON"));
    expect(() => parseJsonText(s, '{"port": 1.5}', "config")).toThrow(/^config field port: /);
    expect(() => parseJsonText(s, '{"port": 1, "x": 2}', "config")).toThrow(TypeError);
  });
});
