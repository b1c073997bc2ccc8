import { createServer } from 'node:net';

/**
 * A loopback TCP port that was free a moment ago: the OS picks it, we release it
 * at once. Another process may take it before the caller binds it, so callers
 * that start servers should be ready to retry with a new port.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('freePort: listening socket has no TCP address'));
        return;
      }
      server.close((err) => (err ? reject(err) : resolve(address.port)));
    });
  });
}
