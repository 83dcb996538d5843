/** Strict JSON body validation shared by the route modules. */
import type { Context, MiddlewareHandler } from "hono";
import { validator } from "hono/validator";
import type { z } from "zod";
import { ApiError, zodIssues } from "./errors.ts";
import { parseJsonStrict, StrictJsonError } from "../protocol/api/frames.ts";
import { firstIssue } from "../protocol/api/schemas.ts";

/**
 * Reads a JSON body: 415 `unsupported-media-type` unless application/json, 400
 * `malformed-json` if it does not parse, 400 `validation-failed` (issue naming the object) if
 * any object in it has a `"__proto__"` key (refused like any unknown field, never dropped).
 */
async function readJson(c: Context): Promise<unknown> {
  const ct = (c.req.header("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  if (ct !== "application/json") throw new ApiError(415, "unsupported-media-type", "content-type must be application/json");
  const text = await c.req.text();
  try {
    return parseJsonStrict(text);
  } catch (e) {
    if (e instanceof StrictJsonError && e.reason === "proto-key") {
      throw new ApiError(400, "validation-failed", "request body must not contain the key \"__proto__\"", [{ path: e.path, message: "the key \"__proto__\" is not allowed" }]);
    }
    throw new ApiError(400, "malformed-json", "request body is not valid JSON");
  }
}

/** `validator("json")` that refuses non-JSON, malformed JSON, `__proto__` keys and schema mismatches (unknown fields included). */
export function jsonBody<S extends z.ZodType>(schema: S) {
  return validator("json", async (_v, c): Promise<z.output<S>> => parseBody(c, schema));
}

/**
 * The body parsed strictly ({@link jsonBody}'s rules) against `schema`, for handlers that must
 * authenticate before they read the body. Throws ApiError 415/400 (`malformed-json`,
 * `validation-failed` with the issues, `__proto__` keys included).
 */
export async function parseBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.output<S>> {
  const raw = await readJson(c);
  const r = schema.safeParse(raw);
  if (!r.success) throw new ApiError(400, "validation-failed", "request body does not match the schema", zodIssues(r.error));
  return r.data;
}

/**
 * `validator("query")` against a zod object (unknown parameters are ignored: signed URLs carry
 * their auth values in the query). A mismatch is 400 `bad-request` naming the parameter.
 */
export function queryParams<S extends z.ZodType<Record<string, unknown>>>(schema: S) {
  return validator("query", (q): z.output<S> => {
    const r = schema.safeParse(q);
    if (!r.success) throw new ApiError(400, "bad-request", `query parameter ${firstIssue(r.error)}`);
    return r.data;
  });
}

/** Parses a non-negative integer path parameter or throws 400. */
export function intParam(v: string | undefined, name: string): number {
  if (!v || !/^[0-9]{1,9}$/.test(v)) throw new ApiError(400, "bad-request", `${name} must be a non-negative integer`);
  return Number(v);
}

/**
 * Caches the raw body bytes before any JSON parsing, so a signature check over the exact
 * bytes still works after `jsonBody` (hono re-derives json from the cached bytes, never the
 * other way round). Put it before `jsonBody` on every signed route. The text is decoded here
 * once (UTF-8 with replacement and BOM removal, as `Request.text()`): hono would otherwise
 * decode the cached bytes through a new `Response` on each of its and our reads (profiled: ≈ 10%
 * of the coordinator's time per signed heartbeat).
 */
export const rawBody: MiddlewareHandler = async (c, next) => {
  const bytes = await c.req.arrayBuffer();
  const cache = c.req.bodyCache as { text?: Promise<string> }; // hono caches body reads as promises
  cache.text ??= Promise.resolve(new TextDecoder().decode(bytes));
  await next();
};
