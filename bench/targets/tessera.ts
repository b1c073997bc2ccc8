/**
 * Cases (c)–(h): Tessera in its production shape — what src/main.ts builds, on MongoDB and
 * Redis, with its logger writing one line per request to a file — listening on a loopback port.
 * The configuration comes from the parent as an explicit environment (BENCH_TESSERA_ENV, JSON),
 * fed to the same loadConfig() that main.ts uses. The data was seeded beforehand by the parent.
 *
 * Counted for the report (one increment each, nothing else changes): bearer lookups
 * (Authenticator.lookup, what introspection and verification call) and store resolutions (Authenticator.resolve,
 * what the principal cache calls on a miss), so the parent can compute the cache hit ratio.
 */
import { createServer } from 'node:http';
import { createTessera } from '../../src/app.ts';
import { loadConfig } from '../../src/config/index.ts';
import { createLogger } from '../../src/logger.ts';
import { failTarget, serveTarget } from './ipc.ts';

try {
  const env = JSON.parse(process.env['BENCH_TESSERA_ENV'] ?? '{}') as Record<string, string>;
  const config = loadConfig(env);
  const logger = createLogger({ level: config.logLevel, file: config.logFile });
  const tessera = await createTessera(config, { logger });

  const counts = { lookups: 0, resolves: 0 };
  let lifetimeLookups = 0;
  const { authenticator, resolver } = tessera.services;
  const lookup = authenticator.lookup.bind(authenticator);
  const resolve = resolver.resolve.bind(resolver);
  authenticator.lookup = (bearer) => {
    counts.lookups++;
    lifetimeLookups++;
    return lookup(bearer);
  };
  // The cache resolves its misses through the resolver: these are the store reads.
  resolver.resolve = (bearer) => {
    counts.resolves++;
    return resolve(bearer);
  };

  const server = createServer(tessera.handler);
  const stop = (): void => {
    server.close();
    server.closeAllConnections();
    void tessera.close().finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  await serveTarget(
    server,
    () => ({ ...counts, lifetimeLookups, cacheEntries: tessera.services.principalCache.size }),
    () => {
      counts.lookups = 0;
      counts.resolves = 0;
    },
    { logLevel: config.logLevel, logFile: config.logFile, cacheMaxAgeMs: config.principalCacheMaxAgeMs },
  );
} catch (error) {
  failTarget(error);
}
