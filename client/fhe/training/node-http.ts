/**
 * A fetch handler (a hono app's `fetch`) served over node:http, for `2pm fhe serve`. Request
 * bodies stream into the handler and are cut at `maxBodyBytes` (the stream errors with 413
 * `payload-too-large`); a body the handler did not read to the end is drained before the answer
 * is written (so a client still uploading reads it), and the socket is destroyed past 1 GiB.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { ProblemError } from "../../../protocol/api/problem.ts";

const DRAIN_LIMIT = 2 ** 30;

export interface NodeHttpOptions {
  /** Largest request body passed to the handler. */
  maxBodyBytes: number;
  /** One line per request (method, path, status, bytes, seconds); default none. */
  log?: (line: string) => void;
}

/** The request's body as a web stream, pulled on demand, erroring past `max` bytes. */
function bodyStream(max: number, chunks: AsyncIterator<Buffer>): ReadableStream<Uint8Array> {
  let n = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const r = await chunks.next();
      if (r.done) return controller.close();
      n += r.value.length;
      if (n > max) return controller.error(new ProblemError(413, "payload-too-large", `request body exceeds ${max} bytes`));
      controller.enqueue(new Uint8Array(r.value.buffer, r.value.byteOffset, r.value.length));
    },
  }, { highWaterMark: 0 });
}

/** Reads and discards what is left of the body; destroys the socket past {@link DRAIN_LIMIT}. */
async function drain(req: IncomingMessage, chunks: AsyncIterator<Buffer>): Promise<void> {
  let n = 0;
  try {
    for (let r = await chunks.next(); !r.done; r = await chunks.next()) {
      n += r.value.length;
      if (n > DRAIN_LIMIT) return void req.destroy();
    }
  } catch {
    /* the client went away */
  }
}

async function answer(handler: (r: Request) => Response | Promise<Response>, req: IncomingMessage, res: ServerResponse, o: NodeHttpOptions): Promise<void> {
  const chunks = req[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const method = req.method ?? "GET";
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(", ") : v);
  const hasBody = method !== "GET" && method !== "HEAD";
  const request = new Request(new URL(req.url ?? "/", "http://localhost"), { method, headers, ...(hasBody && { body: bodyStream(o.maxBodyBytes, chunks), duplex: "half" }) } as RequestInit);
  const response = await handler(request);
  const body = new Uint8Array(await response.arrayBuffer());
  if (!req.readableEnded) await drain(req, chunks);
  const out: Record<string, string> = { "content-length": String(body.length) };
  response.headers.forEach((v, k) => (out[k] = v));
  res.writeHead(response.status, out);
  res.end(body);
}

/**
 * A node:http server (not yet listening) answering every request with `handler`. The handler
 * must not throw (a hono app answers its own errors); if it does, the socket is destroyed.
 */
export function serveFetch(handler: (r: Request) => Response | Promise<Response>, o: NodeHttpOptions): Server {
  const server = createServer((req, res) => {
    const t0 = performance.now();
    answer(handler, req, res, o)
      .catch(() => res.destroy())
      .finally(() => o.log?.(`${req.method} ${req.url} ${res.statusCode} ${req.headers["content-length"] ?? 0} B ${((performance.now() - t0) / 1000).toFixed(2)} s`));
  });
  server.requestTimeout = 0; // a 500 MB upload on a slow link may take more than Node's default 300 s
  return server;
}
