/**
 * `serveFetch` (client/fhe/training/node-http.ts), the node:http side of `2pm fhe serve`: a
 * chunked body past the cap is cut with 413 `payload-too-large` (never buffered whole), a body
 * the handler refused unread is drained so the client reads the answer, and headers and status
 * pass through.
 */
import type { AddressInfo } from "node:net";
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Hono } from "hono";
import { ProblemError, problemFor } from "../../../protocol/api/problem.ts";
import { serveFetch } from "../../../client/fhe/training/node-http.ts";

const CAP = 64 * 1024;
let url: string;
const lines: string[] = [];
let read = 0;
const app = new Hono()
  .post("/echo-length", async (c) => {
    const b = new Uint8Array(await c.req.arrayBuffer());
    read = b.length;
    return c.json({ n: b.length }, 201, { "x-seen": "yes" });
  })
  .post("/refuse", () => {
    throw new ProblemError(401, "unauthorized", "no");
  })
  .onError((e) => problemFor(e, () => undefined));
const server = serveFetch(app.fetch, { maxBodyBytes: CAP, log: (l) => lines.push(l) });

beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

/** POSTs `total` bytes in chunks without a content-length (chunked transfer encoding). */
function chunked(path: string, total: number): Promise<{ status: number; body: Record<string, unknown>; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { method: "POST", headers: { "content-type": "application/octet-stream" } }, (res) => {
      let s = "";
      res.on("data", (c: Buffer) => (s += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode!, body: JSON.parse(s) as Record<string, unknown>, headers: res.headers }));
    });
    req.on("error", reject);
    const chunk = new Uint8Array(8192).fill(1);
    for (let sent = 0; sent < total; sent += chunk.length) req.write(chunk.subarray(0, Math.min(chunk.length, total - sent)));
    req.end();
  });
}

describe("serveFetch", () => {
  it("passes a body within the cap, with status and headers", async () => {
    const r = await chunked("/echo-length", CAP);
    expect(r).toMatchObject({ status: 201, body: { n: CAP }, headers: { "x-seen": "yes" } });
    expect(read).toBe(CAP);
    expect(lines.at(-1)).toMatch(/^POST \/echo-length 201 /);
  });

  it("cuts a chunked body past the cap with 413 payload-too-large", async () => {
    read = -1;
    const r = await chunked("/echo-length", CAP * 4);
    expect(r.status).toBe(413);
    expect(r.body).toMatchObject({ code: "payload-too-large", status: 413 });
    expect(read).toBe(-1); // the handler never saw the bytes
  });

  it("drains a body the handler refused unread, so the client reads the answer", async () => {
    const r = await chunked("/refuse", CAP * 8);
    expect(r).toMatchObject({ status: 401, body: { code: "unauthorized", detail: "no" } });
    // the server still answers afterwards
    expect((await chunked("/echo-length", 10)).body).toEqual({ n: 10 });
  });
});
