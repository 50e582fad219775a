/**
 * Test support: a TCP pass-through placed in front of a server, recording each connection
 * and who closed it. Tests use it to see what the server sees: that an aborted call closes
 * its socket. Bytes are forwarded as they come, a reset from either side is passed on as a
 * reset.
 */
import { once } from 'node:events';
import { createServer, type Socket, connect as tcpConnect } from 'node:net';

export interface TapConnection {
  /** Set when the client side closed (or reset) its socket. */
  clientClosedAt: number | undefined;
  /** Set when the connection to the server was closed. */
  serverClosedAt: number | undefined;
  bytesToServer: number;
  bytesToClient: number;
}

export interface TcpTap {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly connections: readonly TapConnection[];
  /** Resolves when some connection's server side has been closed after the client closed. */
  waitForClientClose(timeoutMs?: number): Promise<TapConnection>;
  close(): Promise<void>;
}

export async function startTcpTap(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpTap> {
  const connections: TapConnection[] = [];
  const sockets = new Set<Socket>();
  const waiters: (() => void)[] = [];
  const notify = () => {
    for (const waiter of waiters.splice(0)) waiter();
  };

  const server = createServer({ noDelay: true }, (client) => {
    const record: TapConnection = {
      clientClosedAt: undefined,
      serverClosedAt: undefined,
      bytesToServer: 0,
      bytesToClient: 0,
    };
    connections.push(record);
    const upstream = tcpConnect({ port: targetPort, host: targetHost, noDelay: true });
    sockets.add(client);
    sockets.add(upstream);
    client.on('data', (chunk: Buffer) => {
      record.bytesToServer += chunk.length;
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      record.bytesToClient += chunk.length;
      client.write(chunk);
    });
    client.on('error', () => {});
    upstream.on('error', () => {});
    client.on('close', (hadError) => {
      sockets.delete(client);
      if (record.clientClosedAt === undefined && record.serverClosedAt === undefined) {
        record.clientClosedAt = Date.now();
        if (hadError) upstream.resetAndDestroy();
        else upstream.destroy();
      }
    });
    upstream.on('close', (hadError) => {
      sockets.delete(upstream);
      record.serverClosedAt = Date.now();
      if (record.clientClosedAt === undefined) {
        if (hadError) client.resetAndDestroy();
        else client.end();
      }
      notify();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  return {
    url: `http://127.0.0.1:${port}`,
    connections,
    waitForClientClose: (timeoutMs = 2000) =>
      new Promise((resolve, reject) => {
        const check = (): boolean => {
          const closed = connections.find(
            (connection) =>
              connection.clientClosedAt !== undefined && connection.serverClosedAt !== undefined,
          );
          if (closed) resolve(closed);
          return closed !== undefined;
        };
        if (check()) return;
        const timer = setTimeout(
          () => reject(new Error('no connection was closed by the client')),
          timeoutMs,
        );
        const wait = () => {
          if (check()) clearTimeout(timer);
          else waiters.push(wait);
        };
        waiters.push(wait);
      }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
