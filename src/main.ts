/**
 * Entry point: load config → listen (503 until ready) → open stores → build app → serve; graceful
 * shutdown on SIGTERM/SIGINT.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createTessera, type Tessera } from './app.ts';
import { ConfigError, loadConfig, type Config } from './config/index.ts';
import { createHttpServer, type TesseraServer } from './http/server.ts';
import { createLogger, type Logger } from './logger.ts';
import { readJsonFile } from './read-json-file.ts';
import { seedDemo } from './services/demo/demo-seed.ts';
import { demoWalkthrough } from './services/demo/demo-walkthrough.ts';

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`tessera: ${error.message}`);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger({ level: config.logLevel, file: config.logFile });
  // The port first: a start that cannot listen says so in one line, before anything else.
  let serve: (req: IncomingMessage, res: ServerResponse) => void = starting;
  const http = createHttpServer((req, res) => serve(req, res), config, logger);
  const port = await listen(http.server, config).catch((error: NodeJS.ErrnoException) => {
    const why = error.code === 'EADDRINUSE' ? 'is in use' : error.code === 'EACCES' ? 'may not be used by this user' : `cannot be listened on (${error.message})`;
    console.error(`tessera: port ${config.port} on ${config.host} ${why}; set PORT to another`);
    process.exit(1);
  });
  for (const name of config.generatedSecrets) {
    logger.warn({ setting: name }, `${name} is not set: generated a random value for this run (sessions will not survive a restart; set it in production)`);
  }

  let tessera: Tessera;
  try {
    tessera = await createTessera(config, { logger });
  } catch (error) {
    logger.fatal({ err: { message: (error as Error).message } }, 'cannot open stores');
    console.error(`tessera: cannot start: ${(error as Error).message}`);
    process.exit(1);
  }

  if (config.storeMode === 'embedded') {
    logger.warn('EMBEDDED MODE: running on in-memory stores; nothing is persisted and everything is lost on exit. Set MONGODB_URI and REDIS_URL to use MongoDB and Redis.');
  } else {
    logger.info({ stores: 'mongodb+redis' }, 'using MongoDB and Redis');
  }

  try {
    await seed(tessera, config, logger);
  } catch (error) {
    logger.fatal({ err: { message: (error as Error).message } }, 'seed failed');
    console.error(`tessera: cannot load seed file ${config.seedFile}: ${(error as Error).message}`);
    await tessera.close();
    process.exit(1);
  }

  serve = tessera.handler;
  logger.info({ port, baseUrl: config.baseUrl }, `Tessera listening on ${config.host}:${port}`);
  installShutdown(http, tessera, logger);
}

/** Listens; resolves with the port (the one asked for, or the one given for port 0). */
function listen(server: Server, config: Config): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : config.port);
    });
  });
}

/** Until the stores are open: 503 with Retry-After, as readiness says. */
function starting(_req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(503, { 'Content-Type': 'application/json; charset=utf-8', 'Retry-After': '1', 'Cache-Control': 'no-store' });
  res.end('{"error":{"code":"UNAVAILABLE","message":"Starting"}}');
}

async function seed(tessera: Tessera, config: Config, logger: Logger): Promise<void> {
  if (config.seedFile !== null) {
    const summary = await tessera.services.seedImporter.import(await readJsonFile(config.seedFile));
    logger.info({ seedFile: config.seedFile, summary }, 'seed file loaded');
    return;
  }
  if (config.storeMode !== 'embedded') return;
  const { services, stores } = tessera;
  const demo = await seedDemo({ ...services, stores });
  // Shown once on the terminal, not in the structured log: credentials at their creation.
  console.error(demoWalkthrough(demo, config.baseUrl));
}

/**
 * SIGTERM/SIGINT: stop accepting connections (once those the kernel has already queued are
 * taken), let in-flight requests finish (their responses close their connections; a connection
 * with no request in progress is closed after a short grace), close the stores, exit 0 — see
 * drain() in http/server.ts. A hard deadline exits 1 if requests do not finish in time; the
 * drain's own waits are kept well inside it.
 */
function installShutdown(http: TesseraServer, tessera: Tessera, logger: Logger): void {
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: draining in-flight requests');
    const deadline = setTimeout(() => {
      logger.error('shutdown deadline passed with requests still in flight; exiting');
      process.exit(1);
    }, tessera.config.shutdownTimeoutMs);
    deadline.unref();
    void http.drain().then(async () => {
      await tessera.close();
      logger.info('shutdown complete');
      process.exit(0);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

await main();
