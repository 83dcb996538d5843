/**
 * The owner's HTTP client for `2pm fhe serve` (serve.ts): the same frames as the in-process
 * server, over `POST /v1/fhe/train/keys` (once per run), `POST /v1/fhe/train/block` (per block)
 * and `DELETE /v1/fhe/train/keys/:id` (at the end). Every non-2xx answer becomes an
 * ApiClientError (protocol/api/problem.ts) carrying the server's problem-details `code`.
 *
 *   const server = httpTrainServer("http://127.0.0.1:8791", token);
 *   await trainEncrypted({ seal, x, y, nag, server });
 */
import { ApiClientError, ensureOk } from "../../../protocol/api/problem.ts";
import { FRAME_CONTENT_TYPE } from "../wire.ts";
import type { TrainServer } from "./train.ts";
import { keyIdSchema } from "./wire.ts";

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
    return ensureOk(r, "training server");
  };
  return {
    async putKeys(keySet) {
      const r = await post("keys", keySet);
      const id = keyIdSchema.safeParse(((await r.json()) as { keyId?: unknown }).keyId);
      if (!id.success) throw new ApiClientError(0, "bad-response", "the key upload returned no key id", undefined, "training server");
      return id.data;
    },
    async train(request) {
      const r = await post("block", request);
      return new Uint8Array(await r.arrayBuffer());
    },
    async deleteKeys(keyId) {
      const r = await fetchFn(`${base}/keys/${encodeURIComponent(keyId)}`, { method: "DELETE", headers: auth });
      if (r.status !== 404) await ensureOk(r, "training server");
    },
  };
}
