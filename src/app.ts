/**
 * The composition root: the one place that constructs stores and services and wires them into
 * the HTTP application. Everything else receives its dependencies.
 */
import type Router from '@koa/router';
import Koa from 'koa';
import type { Config } from './config/index.ts';
import { systemClock } from './domain/clock.ts';
import { ScopeCatalog } from './domain/scopes.ts';
import { baseMiddleware } from './http/base-middleware.ts';
import { authenticate } from './http/middleware/authenticate.ts';
import { methodNotAllowed } from './http/middleware/method-not-allowed.ts';
import { apiKeyRoutes } from './http/routes/api-key-routes.ts';
import { auditRoutes } from './http/routes/audit-routes.ts';
import { healthRoutes } from './http/routes/health-routes.ts';
import { meRoutes } from './http/routes/me-routes.ts';
import type { Logger } from './logger.ts';
import type { Clock, Stores } from './ports.ts';
import { AccountService } from './services/account-service.ts';
import { ApiKeyService } from './services/api-key-service.ts';
import { AuditLog } from './services/audit-log.ts';
import { Authenticator } from './services/authenticator.ts';
import { BearerEvents } from './services/bearer-events.ts';
import { FailureThrottle } from './services/failure-throttle.ts';
import { HealthService } from './services/health-service.ts';
import { LastUsedTracker } from './services/last-used-tracker.ts';
import { argon2idHasher, type PasswordHasher } from './services/password-hasher.ts';
import { RateLimiter } from './services/rate-limiter.ts';
import { SeedImporter } from './services/seed-importer.ts';
import { WindowCounter } from './services/window-counter.ts';
import { MemoryApiKeyStore } from './stores/memory/memory-api-key-store.ts';
import { MemoryAuditStore } from './stores/memory/memory-audit-store.ts';
import { MemoryEphemeralStore } from './stores/memory/memory-ephemeral-store.ts';
import { MemoryMembershipStore } from './stores/memory/memory-membership-store.ts';
import { MemoryOrganizationStore } from './stores/memory/memory-organization-store.ts';
import { MemoryUserStore } from './stores/memory/memory-user-store.ts';
import { MongoApiKeyStore } from './stores/mongo/mongo-api-key-store.ts';
import { MongoAuditStore } from './stores/mongo/mongo-audit-store.ts';
import { openMongo } from './stores/mongo/mongo-connection.ts';
import { MongoMembershipStore } from './stores/mongo/mongo-membership-store.ts';
import { MongoOrganizationStore } from './stores/mongo/mongo-organization-store.ts';
import { MongoUserStore } from './stores/mongo/mongo-user-store.ts';
import { RedisEphemeralStore } from './stores/redis/redis-ephemeral-store.ts';

export interface Services {
  health: HealthService;
  accounts: AccountService;
  seedImporter: SeedImporter;
  apiKeys: ApiKeyService;
  audit: AuditLog;
  authenticator: Authenticator;
  rateLimiter: RateLimiter;
  catalog: ScopeCatalog;
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
    apiKeys: new MemoryApiKeyStore(),
    audit: new MemoryAuditStore(),
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
  const apiKeys = new MongoApiKeyStore(connection);
  const audit = new MongoAuditStore(connection);
  await Promise.all([users.init(), organizations.init(), memberships.init(), apiKeys.init(), audit.init()]);
  return {
    kind: 'external',
    users,
    organizations,
    memberships,
    apiKeys,
    audit,
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

export interface ServiceOptions {
  clock?: Clock;
  hasher?: PasswordHasher;
  logger?: Logger;
}

export function createServices(stores: Stores, config: Config, options: ServiceOptions = {}): Services {
  const clock = options.clock ?? systemClock;
  const hasher = options.hasher ?? argon2idHasher;
  const logger = options.logger;
  const warn = (what: string) => (error: unknown) => logger?.warn({ err: { message: (error as Error).message } }, what);

  const accountDeps = { users: stores.users, organizations: stores.organizations, memberships: stores.memberships, hasher, clock };
  const catalog = new ScopeCatalog(config.resourceScopes);
  // Counters fall back to this process while Redis is unreachable.
  const counter = new WindowCounter(stores.ephemeral, new MemoryEphemeralStore(clock), warn('Redis unreachable: counting limits in this process'));
  const audit = new AuditLog(stores.audit, clock);
  const events = new BearerEvents(stores.ephemeral, warn('Redis unreachable: bearer change not broadcast'));
  return {
    health: new HealthService(stores.health),
    accounts: new AccountService(accountDeps),
    seedImporter: new SeedImporter({ ...accountDeps, apiKeys: stores.apiKeys, format: config.apiKeyFormat, catalog }),
    audit,
    catalog,
    apiKeys: new ApiKeyService({ apiKeys: stores.apiKeys, audit, events, catalog, format: config.apiKeyFormat, clock }),
    authenticator: new Authenticator({
      ...accountDeps,
      apiKeys: stores.apiKeys,
      catalog,
      format: config.apiKeyFormat,
      throttle: new FailureThrottle(counter, config.authFailuresPerMinute),
      lastUsed: new LastUsedTracker(stores.apiKeys, stores.ephemeral, config.lastUsedIntervalMs, clock, warn('lastUsedAt not recorded')),
      defaultRateLimitPerMinute: config.keyRateLimitPerMinute,
    }),
    rateLimiter: new RateLimiter(counter, clock),
  };
}

export function createHttpApp(config: Config, services: Services, logger: Logger): Koa {
  const app = new Koa({ proxy: config.trustProxy, keys: config.cookieKeys });
  app.silent = true; // errors are logged by our handler, without request data

  const authenticated = authenticate(services.authenticator, services.rateLimiter);
  const routers: Router[] = [
    healthRoutes(services.health, config.storeMode),
    meRoutes(authenticated),
    apiKeyRoutes(services.apiKeys, authenticated, config.bodyLimitBytes),
    auditRoutes(services.audit, authenticated),
  ];
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
  const services = createServices(stores, config, { clock, hasher: options.hasher, logger: options.logger });
  const app = createHttpApp(config, services, options.logger);
  return { config, logger: options.logger, stores, services, app, close: () => stores.close() };
}
