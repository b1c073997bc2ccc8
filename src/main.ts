/**
 * Entry point: load config → open stores → build app → listen; graceful shutdown on SIGTERM/SIGINT.
 */
import { createTessera, type Tessera } from './app.ts';
import { ConfigError, loadConfig, type Config } from './config/index.ts';
import { createHttpServer, type TesseraServer } from './http/server.ts';
import { createLogger, type Logger } from './logger.ts';
import { readJsonFile } from './read-json-file.ts';
import { seedDemo } from './services/accounts/demo-seed.ts';
import { operatorActor } from './services/accounts/operator-actor.ts';

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

  const http = createHttpServer(tessera.handler, config, logger);
  const { server } = http;
  server.listen(config.port, config.host, () => {
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    logger.info({ port, baseUrl: config.baseUrl }, `Tessera listening on ${config.host}:${port}`);
  });
  installShutdown(http, tessera, logger);
}

async function seed(tessera: Tessera, config: Config, logger: Logger): Promise<void> {
  if (config.seedFile !== null) {
    const summary = await tessera.services.seedImporter.import(await readJsonFile(config.seedFile));
    logger.info({ seedFile: config.seedFile, summary }, 'seed file loaded');
    return;
  }
  if (config.storeMode !== 'embedded') return;
  const { services, stores } = tessera;
  const demo = await seedDemo(services.accounts);
  const actor = await operatorActor(stores, services.catalog, demo.userId, demo.orgId);
  const demoKey = await services.apiKeys.create(actor, { name: 'demo' });
  // Shown once on the terminal, not in the structured log: a credential at its creation.
  console.error(
    [
      '',
      '  Tessera demo account (embedded mode; recreated at every start)',
      `    organization: ${demo.orgId}`,
      `    sign in as:   ${demo.email}`,
      `    password:     ${demo.password}`,
      `    API key:      ${demoKey.secret}`,
      `    try:          curl -H "Authorization: Bearer ${demoKey.secret}" ${config.baseUrl}/api/v1/me`,
      '',
    ].join('\n'),
  );
}

/**
 * SIGTERM/SIGINT: stop accepting connections, let in-flight requests finish (their responses
 * close their connections; idle keep-alive connections are closed at once), close the stores,
 * exit 0. A hard deadline exits 1 if requests do not finish in time.
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
