/**
 * The composition root: the one place that constructs stores and services and wires them into
 * the HTTP application. Everything else receives its dependencies.
 */
import Koa from 'koa';
import type { Config } from './config/index.ts';
import { systemClock } from './domain/clock.ts';
import { baseMiddleware } from './http/base-middleware.ts';
import { methodNotAllowed } from './http/middleware/method-not-allowed.ts';
import { healthRoutes } from './http/routes/health-routes.ts';
import type { Logger } from './logger.ts';
import type { Clock, Stores } from './ports.ts';
import { AccountService } from './services/account-service.ts';
import { HealthService } from './services/health-service.ts';
import { argon2idHasher, type PasswordHasher } from './services/password-hasher.ts';
import { SeedImporter } from './services/seed-importer.ts';
import { MemoryEphemeralStore } from './stores/memory/memory-ephemeral-store.ts';
import { MemoryMembershipStore } from './stores/memory/memory-membership-store.ts';
import { MemoryOrganizationStore } from './stores/memory/memory-organization-store.ts';
import { MemoryUserStore } from './stores/memory/memory-user-store.ts';
import { openMongo } from './stores/mongo/mongo-connection.ts';
import { MongoMembershipStore } from './stores/mongo/mongo-membership-store.ts';
import { MongoOrganizationStore } from './stores/mongo/mongo-organization-store.ts';
import { MongoUserStore } from './stores/mongo/mongo-user-store.ts';
import { RedisEphemeralStore } from './stores/redis/redis-ephemeral-store.ts';

export interface Services {
  health: HealthService;
  accounts: AccountService;
  seedImporter: SeedImporter;
}

export interface Tessera {
  config: Config;
  logger: Logger;
  stores: Stores;
  services: Services;
  app: Koa;
  close(): Promise<void>;
}

export interface TesseraOptions {
  logger: Logger;
  clock?: Clock;
  hasher?: PasswordHasher;
}

export function openMemoryStores(clock: Clock = systemClock): Stores {
  const ephemeral = new MemoryEphemeralStore(clock);
  return {
    kind: 'memory',
    users: new MemoryUserStore(),
    organizations: new MemoryOrganizationStore(),
    memberships: new MemoryMembershipStore(),
    ephemeral,
    health: [{ name: 'memory', ping: () => ephemeral.ping() }],
    close: () => ephemeral.close(),
  };
}

/** MongoDB (store of record) and Redis; rejects with a clear message when either is unreachable. */
export async function openExternalStores(config: Config): Promise<Stores> {
  const [mongo, redis] = await Promise.allSettled([
    openMongo(config.mongodbUri!, { timeoutMs: config.storeTimeoutMs }),
    RedisEphemeralStore.open(config.redisUrl!, { keyPrefix: config.redisKeyPrefix, timeoutMs: config.storeTimeoutMs }),
  ]);
  if (mongo.status === 'rejected' || redis.status === 'rejected') {
    if (mongo.status === 'fulfilled') await mongo.value.close();
    if (redis.status === 'fulfilled') await redis.value.close();
    const reasons = [mongo, redis].flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).message] : []));
    throw new Error(reasons.join('; '));
  }
  const { connection } = mongo.value;
  const users = new MongoUserStore(connection);
  const organizations = new MongoOrganizationStore(connection);
  const memberships = new MongoMembershipStore(connection);
  await Promise.all([users.init(), organizations.init(), memberships.init()]);
  return {
    kind: 'external',
    users,
    organizations,
    memberships,
    ephemeral: redis.value,
    health: [mongo.value.health, redis.value.health],
    close: async () => {
      await Promise.allSettled([mongo.value.close(), redis.value.close()]);
    },
  };
}

export function openStores(config: Config, clock: Clock = systemClock): Promise<Stores> {
  return config.storeMode === 'embedded' ? Promise.resolve(openMemoryStores(clock)) : openExternalStores(config);
}

export function createServices(stores: Stores, clock: Clock = systemClock, hasher: PasswordHasher = argon2idHasher): Services {
  const deps = { users: stores.users, organizations: stores.organizations, memberships: stores.memberships, hasher, clock };
  return {
    health: new HealthService(stores.health),
    accounts: new AccountService(deps),
    seedImporter: new SeedImporter(deps),
  };
}

export function createHttpApp(config: Config, services: Services, logger: Logger): Koa {
  const app = new Koa({ proxy: config.trustProxy, keys: config.cookieKeys });
  app.silent = true; // errors are logged by our handler, without request data

  const routers = [healthRoutes(services.health, config.storeMode)];
  for (const middleware of baseMiddleware(logger)) app.use(middleware);
  for (const router of routers) {
    app.use(methodNotAllowed(router));
    app.use(router.routes());
  }
  return app;
}

export async function createTessera(config: Config, options: TesseraOptions): Promise<Tessera> {
  const clock = options.clock ?? systemClock;
  const stores = await openStores(config, clock);
  const services = createServices(stores, clock, options.hasher);
  const app = createHttpApp(config, services, options.logger);
  return { config, logger: options.logger, stores, services, app, close: () => stores.close() };
}
