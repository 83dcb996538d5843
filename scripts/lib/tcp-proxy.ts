/**
 * A loopback TCP proxy for fault tests and the fault bench: a node reaches the coordinator
 * through it, and the test can cut that node's network — every open connection is reset and
 * new ones are refused (the port is closed) for a while — without touching the node or the
 * coordinator processes.
 */
import net from "node:net";

export interface TcpProxy {
  /** `http://127.0.0.1:<port>`: give this to the node as its coordinator URL. */
  readonly url: string;
  /**
   * Resets every open connection and refuses new ones for `ms` milliseconds, then listens
   * again on the same port. Resolves once it listens again.
   */
  cut(ms: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts a proxy on a free loopback port forwarding to `target` (`http://host:port`).
 * Throws if the target URL has no port or the port cannot be bound.
 */
export async function startTcpProxy(target: string): Promise<TcpProxy> {
  const t = new URL(target);
  const targetPort = Number(t.port);
  if (!targetPort) throw new Error(`tcp proxy: target ${target} has no port`);
  const open = new Set<net.Socket>();
  const handler = (client: net.Socket): void => {
    const upstream = net.connect(targetPort, t.hostname);
    open.add(client).add(upstream);
    const drop = () => { client.destroy(); upstream.destroy(); open.delete(client); open.delete(upstream); };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
    client.pipe(upstream);
    upstream.pipe(client);
  };
  let server = net.createServer(handler);
  const listen = (port: number) => new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port));
  });
  const port = await listen(0);
  const closeServer = () => new Promise<void>((r) => server.close(() => r()));
  return {
    url: `http://127.0.0.1:${port}`,
    async cut(ms: number) {
      const closing = closeServer();
      for (const s of open) s.resetAndDestroy();
      open.clear();
      await closing;
      await new Promise((r) => setTimeout(r, ms));
      server = net.createServer(handler);
      await listen(port);
    },
    async close() {
      for (const s of open) s.destroy();
      await closeServer();
    },
  };
}
