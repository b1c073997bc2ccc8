import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type Koa from 'koa';

export interface RunningApp {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/** Serves a Koa app (or a node:http handler) on a free loopback port, for tests that speak real HTTP to it. */
export async function serve(app: Koa | ((req: IncomingMessage, res: ServerResponse) => void)): Promise<RunningApp> {
  const server = createServer(typeof app === 'function' ? app : app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  return {
    url: `http://127.0.0.1:${address.port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
