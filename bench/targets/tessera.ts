/**
 * Cases (c)–(h) and the token cases (r1)(r2)(x): Tessera in its production shape — what
 * src/main.ts builds, on MongoDB and Redis (or, for (r1), its embedded memory stores), with its
 * logger writing one line per request to a file — listening on a loopback port. The configuration
 * comes from the parent as an explicit environment (BENCH_TESSERA_ENV, JSON), fed to the same
 * loadConfig() that main.ts uses; a seed file (TESSERA_SEED) is loaded as main.ts loads one.
 *
 * BASE_URL "auto": the issuer is this process's own URL (it listens first, on a port the OS
 * picks), so that the OAuth pages' redirects — absolute URLs on the issuer — come back here.
 *
 * Counted for the report (one increment each, nothing else changes): bearer lookups
 * (Authenticator.lookup, what introspection and verification call) and store resolutions (Authenticator.resolve,
 * what the principal cache calls on a miss), so the parent can compute the cache hit ratio.
 *
 * Command `clone-grants` ({ template, request }): copies of a real grant — the --grants seeding, or
 * new chains for the refresh cases — into this process's stores through their ports
 * (bench/lib/grant-growth.ts): for the memory stores, which only this process holds; the parent
 * writes MongoDB in bulk itself.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createTessera } from '../../src/app.ts';
import { loadConfig } from '../../src/config/index.ts';
import { createLogger } from '../../src/logger.ts';
import { readJsonFile } from '../../src/read-json-file.ts';
import { cloneGrantsInStores, type CloneRequest, type TemplateIds } from '../lib/grant-growth.ts';
import { failTarget, listenOnLoopback, serveTarget } from './ipc.ts';

try {
  const env = JSON.parse(process.env['BENCH_TESSERA_ENV'] ?? '{}') as Record<string, string>;
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.writeHead(503).end();
  const server = createServer((req, res) => handler(req, res));
  if (env['BASE_URL'] === 'auto') env['BASE_URL'] = `http://127.0.0.1:${await listenOnLoopback(server)}`;
  const config = loadConfig(env);
  const logger = createLogger({ level: config.logLevel, file: config.logFile });
  const tessera = await createTessera(config, { logger });
  if (config.seedFile !== null) await tessera.services.seedImporter.import(await readJsonFile(config.seedFile));

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

  handler = tessera.handler;
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
    { logLevel: config.logLevel, logFile: config.logFile, cacheMaxAgeMs: config.principalCacheMaxAgeMs, baseUrl: config.baseUrl, storeMode: config.storeMode },
    {
      'clone-grants': (payload) => {
        const { template, request } = payload as { template: TemplateIds; request: CloneRequest };
        return cloneGrantsInStores(tessera.stores, template, request);
      },
    },
  );
} catch (error) {
  failTarget(error);
}
