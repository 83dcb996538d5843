/**
 * The owner's HTTP client for `2pm fhe serve` (serve.ts): the same frames as the in-process
 * server, over `POST /v1/fhe/train/keys` (once per run), `POST /v1/fhe/train/block` (per block)
 * and `DELETE /v1/fhe/train/keys/:id` (at the end). Every non-2xx answer becomes a
 * {@link TrainHttpError} carrying the server's problem-details `code`.
 *
 *   const server = httpTrainServer("http://127.0.0.1:8791", token);
 *   await trainEncrypted({ seal, x, y, nag, server });
 */
import { FRAME_CONTENT_TYPE } from "../wire.ts";
import type { TrainServer } from "./train.ts";
import { keyIdSchema } from "./wire.ts";

/** A refusal by the training server: HTTP status and its stable problem `code`. */
export class TrainHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
  ) {
    super(`training server refused the request (${status} ${code}): ${detail}`);
    this.name = "TrainHttpError";
  }
}

async function problemOf(r: Response): Promise<TrainHttpError> {
  let code = `http-${r.status}`, detail = r.statusText;
  try {
    const p = (await r.json()) as { code?: unknown; detail?: unknown };
    if (typeof p.code === "string") code = p.code;
    if (typeof p.detail === "string") detail = p.detail;
  } catch {
    /* not JSON */
  }
  return new TrainHttpError(r.status, code, detail);
}

/**
 * A {@link TrainServer} talking to `baseUrl` (e.g. http://127.0.0.1:8791) with the bearer
 * `token`. Throws TypeError on a URL that is not http(s).
 */
export function httpTrainServer(baseUrl: string, token: string, fetchFn: typeof fetch = fetch): TrainServer {
  let u: URL;
  try {
    u = new URL(baseUrl);
  } catch {
    throw new TypeError(`server URL ${JSON.stringify(baseUrl)} is not a URL`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new TypeError(`server URL must be http(s), got ${u.protocol}`);
  const base = `${u.origin}${u.pathname.replace(/\/+$/, "")}/v1/fhe/train`;
  const auth = { authorization: `Bearer ${token}` };
  const post = async (path: string, body: Uint8Array): Promise<Response> => {
    const r = await fetchFn(`${base}/${path}`, { method: "POST", headers: { ...auth, "content-type": FRAME_CONTENT_TYPE }, body: body as Uint8Array<ArrayBuffer> });
    if (!r.ok) throw await problemOf(r);
    return r;
  };
  return {
    async putKeys(keySet) {
      const r = await post("keys", keySet);
      const id = keyIdSchema.safeParse(((await r.json()) as { keyId?: unknown }).keyId);
      if (!id.success) throw new TrainHttpError(r.status, "bad-response", "the key upload returned no key id");
      return id.data;
    },
    async train(request) {
      const r = await post("block", request);
      return new Uint8Array(await r.arrayBuffer());
    },
    async deleteKeys(keyId) {
      const r = await fetchFn(`${base}/keys/${encodeURIComponent(keyId)}`, { method: "DELETE", headers: auth });
      if (!r.ok && r.status !== 404) throw await problemOf(r);
    },
  };
}
