import net from 'node:net';

/**
 * A stand-in's front door that a test can shut and open again on the same port. Shut, every open
 * connection is cut and new ones are refused: what a client sees when the service is down. The
 * stand-in behind it keeps running, and with it its data, as a real service's data outlives its
 * outage (moto, kinesalite and the simulator keep everything in memory: killing one would be a
 * loss of all its tables, streams and documents, not an outage).
 */
export interface Outage {
  /** Point the client here instead of at the stand-in. */
  readonly url: string;
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function frontDoor(target: string): Promise<Outage> {
  const { hostname, port: targetPort } = new URL(target);
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  const listen = (port: number) =>
    new Promise<net.Server>((resolve, reject) => {
      const server = net.createServer((client) => {
        const upstream = net.connect(Number(targetPort), hostname);
        track(client);
        track(upstream);
        client.pipe(upstream);
        upstream.pipe(client);
        client.on('error', () => upstream.destroy());
        upstream.on('error', () => client.destroy());
      });
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve(server));
    });
  let server: net.Server | undefined = await listen(0);
  const { port } = server.address() as net.AddressInfo;
  const down = async () => {
    const s = server;
    server = undefined;
    if (!s) return;
    const closed = new Promise<void>((resolve) => s.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await closed;
  };
  return {
    url: `http://127.0.0.1:${port}`,
    down,
    up: async () => {
      server ??= await listen(port);
    },
    close: down,
  };
}
