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
import { frontDoorRoutes } from './http/routes/front-door-routes.ts';
import { healthRoutes } from './http/routes/health-routes.ts';
import { meRoutes } from './http/routes/me-routes.ts';
import { connectedAppRoutes } from './http/routes/connected-app-routes.ts';
import { balanceRoutes } from './http/routes/balance-routes.ts';
import { consoleAppRoutes } from './http/console/console-app-routes.ts';
import { consoleAuditRoutes } from './http/console/console-audit-routes.ts';
import { consoleKeyRoutes } from './http/console/console-key-routes.ts';
import { consoleSessionRoutes } from './http/console/console-session-routes.ts';
import { interactionRoutes } from './oauth/interaction-routes.ts';
import { OidcAccessTokenLookup } from './oauth/access-token-lookup.ts';
import { Interactions } from './oauth/interactions.ts';
import { mountProvider } from './oauth/mount.ts';
import { OAUTH_ROUTES, createProvider } from './oauth/provider.ts';
import { apiKeyRevocation } from './oauth/key-revocation.ts';
import { introspectionEndpoint } from './http/introspection-endpoint.ts';
import { resourceServerHandler } from './http/resource-server-handler.ts';
import { verifyEndpoint } from './http/verify-endpoint.ts';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ClientAuthenticator } from './services/authentication/client-authenticator.ts';
import { ClientAuthThrottle } from './services/limits/client-auth-throttle.ts';
import { clientThrottle } from './oauth/client-throttle.ts';
import { SharedRecordCache } from './services/caching/shared-record-cache.ts';
import { IntrospectionService } from './services/authentication/introspection-service.ts';
import { VerificationService } from './services/authentication/verification-service.ts';
import { PrincipalCache } from './services/caching/principal-cache.ts';
import { RevocationMarkers } from './services/revocation/revocation-markers.ts';
import { refreshReplay } from './oauth/refresh-replay.ts';
import type Provider from 'oidc-provider';
import { ClientService } from './services/oauth-apps/client-service.ts';
import { ConnectedAppsService } from './services/oauth-apps/connected-apps-service.ts';
import type { Logger } from './logger.ts';
import type { Clock, MeteredCredential, Stores } from './ports.ts';
import { AccountService } from './services/accounts/account-service.ts';
import { ApiKeyService } from './services/keys/api-key-service.ts';
import { AuditLog } from './services/audit/audit-log.ts';
import { Authenticator } from './services/authentication/authenticator.ts';
import { MemberCheck } from './services/authentication/member-check.ts';
import { BearerResolver } from './services/authentication/bearer-resolver.ts';
import { BearerEvents } from './services/revocation/bearer-events.ts';
import { FailureThrottle } from './services/limits/failure-throttle.ts';
import { HealthService } from './services/health/health-service.ts';
import { PasswordSignIn } from './services/accounts/password-sign-in.ts';
import { SessionService } from './services/sessions/session-service.ts';
import { LoginThrottle } from './services/limits/login-throttle.ts';
import { LastUsedTracker, type TouchLastUsed } from './services/keys/last-used-tracker.ts';
import { argon2idHasher, type PasswordHasher } from './services/accounts/password-hasher.ts';
import { UsageLimiter } from './services/limits/usage-limiter.ts';
import { UsageMeter } from './services/limits/usage-meter.ts';
import { BalanceService } from './services/limits/balance-service.ts';
import { dailySeries } from './services/limits/usage-series.ts';
import { SeedImporter } from './services/seed/seed-importer.ts';
import { WindowCounter } from './services/limits/window-counter.ts';
import { MemoryApiKeyStore } from './stores/memory/memory-api-key-store.ts';
import { MemoryClientStore } from './stores/memory/memory-client-store.ts';
import { MemoryConnectedAppStore } from './stores/memory/memory-connected-app-store.ts';
import { MemoryOAuthModelStore } from './stores/memory/memory-oauth-model-store.ts';
import { MongoClientStore } from './stores/mongo/mongo-client-store.ts';
import { MongoConnectedAppStore } from './stores/mongo/mongo-connected-app-store.ts';
import { MongoOAuthModelStore } from './stores/mongo/mongo-oauth-model-store.ts';
import { MongoSessionStore } from './stores/mongo/mongo-session-store.ts';
import { MongoMeteringStore } from './stores/mongo/mongo-metering-store.ts';
import { MemorySessionStore } from './stores/memory/memory-session-store.ts';
import { MemoryMeteringStore } from './stores/memory/memory-metering-store.ts';
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
  /** Who a bearer is according to the store of record, without the cache. */
  resolver: BearerResolver;
  limiter: UsageLimiter;
  meter: UsageMeter;
  balances: BalanceService;
  catalog: ScopeCatalog;
  clients: ClientService;
  connectedApps: ConnectedAppsService;
  passwordSignIn: PasswordSignIn;
  sessions: SessionService;
  clientThrottle: ClientAuthThrottle;
  clientAuthenticator: ClientAuthenticator;
  introspection: IntrospectionService;
  verification: VerificationService;
  principalCache: PrincipalCache;
  sharedRecords: SharedRecordCache;
  bearerEvents: BearerEvents;
}

export interface Tessera {
  config: Config;
  logger: Logger;
  stores: Stores;
  services: Services;
  app: Koa;
  /** What the HTTP server runs: introspection's fast path, then the Koa app. */
  handler: (req: IncomingMessage, res: ServerResponse) => void;
  close(): Promise<void>;
}

export interface TesseraOptions {
  logger: Logger;
  clock?: Clock;
  hasher?: PasswordHasher;
}

export function openMemoryStores(clock: Clock = systemClock): Stores {
  const ephemeral = new MemoryEphemeralStore(clock);
  const oauth = new MemoryOAuthModelStore(clock);
  return {
    kind: 'memory',
    users: new MemoryUserStore(),
    organizations: new MemoryOrganizationStore(),
    memberships: new MemoryMembershipStore(),
    apiKeys: new MemoryApiKeyStore(),
    audit: new MemoryAuditStore(),
    clients: new MemoryClientStore(),
    connectedApps: new MemoryConnectedAppStore(),
    oauth,
    metering: new MemoryMeteringStore(),
    sessions: new MemorySessionStore(),
    ephemeral,
    health: [{ name: 'memory', ping: () => ephemeral.ping() }],
    close: async () => {
      oauth.stop();
      await ephemeral.close();
    },
  };
}

/** MongoDB (store of record) and Redis; rejects with a clear message when either is unreachable. */
export async function openExternalStores(config: Config, clock: Clock = systemClock): Promise<Stores> {
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
  const clients = new MongoClientStore(connection);
  const connectedApps = new MongoConnectedAppStore(connection);
  const oauth = new MongoOAuthModelStore(connection, mongo.value.capabilities, clock);
  const metering = new MongoMeteringStore(connection);
  const sessions = new MongoSessionStore(connection, mongo.value.capabilities, clock);
  await Promise.all([users, organizations, memberships, apiKeys, audit, clients, connectedApps, oauth, metering, sessions].map((store) => store.init()));
  return {
    kind: 'external',
    users,
    organizations,
    memberships,
    apiKeys,
    audit,
    clients,
    connectedApps,
    oauth,
    metering,
    sessions,
    ephemeral: redis.value,
    health: [mongo.value.health, redis.value.health],
    close: async () => {
      oauth.stop();
      sessions.stop();
      await Promise.allSettled([mongo.value.close(), redis.value.close()]);
    },
  };
}

export function openStores(config: Config, clock: Clock = systemClock): Promise<Stores> {
  return config.storeMode === 'embedded' ? Promise.resolve(openMemoryStores(clock)) : openExternalStores(config, clock);
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

  const catalog = new ScopeCatalog(config.resourceScopes, config.profile.scopes);
  // Counters fall back to this process while Redis is unreachable.
  const counter = new WindowCounter(stores.ephemeral, new MemoryEphemeralStore(clock), warn('Redis unreachable: counting limits in this process'));
  const audit = new AuditLog(stores.audit, clock);
  const events = new BearerEvents(stores.ephemeral, warn('Redis unreachable: bearer change not broadcast'));
  const markers = new RevocationMarkers(stores.ephemeral, config.refreshTokenLifetimeDays * 86_400_000);
  const accountStores = { users: stores.users, organizations: stores.organizations, memberships: stores.memberships };
  // One service writes each kind of record, and tells every instance of the changes that reach bearers.
  const accounts = new AccountService({ ...accountStores, hasher, clock, events, plans: Object.keys(config.plans), userIds: config.profile.users.idFormat });
  const meter = new UsageMeter(stores.metering, clock, warn('usage not recorded yet: kept for the next flush'));
  const series = (credential: MeteredCredential, range: { from?: string; to?: string }) => dailySeries({ metering: stores.metering, meter, clock }, credential, range);
  const apiKeys = new ApiKeyService({ apiKeys: stores.apiKeys, audit, events, markers, catalog, format: config.apiKeyFormat, policy: config.profile.keys, clock, series });
  const clients = new ClientService(stores.clients, catalog, clock, events);
  const lastUsed = (touch: TouchLastUsed, prefix: string) =>
    new LastUsedTracker(touch, prefix, stores.ephemeral, config.lastUsedIntervalMs, clock, warn('lastUsedAt not recorded'));
  // Shared records live a twentieth of the principal cache's bound (which covers them too): long
  // enough for the refreshes of one user's bearers to share reads, short enough not to anchor
  // all those bearers' next refreshes to one instant.
  const shared = new SharedRecordCache(stores.ephemeral, clock, {
    maxAgeMs: Math.floor(config.principalCacheMaxAgeMs / 20),
    maxEntries: config.principalCacheMaxEntries,
  });
  const members = new MemberCheck({ ...accountStores, shared });
  const resolver = new BearerResolver({
    members,
    clock,
    apiKeys: stores.apiKeys,
    catalog,
    format: config.apiKeyFormat,
    accessTokens: new OidcAccessTokenLookup(stores.oauth, clock),
    connectedApps: stores.connectedApps,
    clients: stores.clients,
    markers,
    shared,
    plans: config.plans,
    defaultLimits: config.defaultLimits,
  });
  // The cache wraps the resolver: it resolves its misses through it.
  const principalCache = new PrincipalCache((bearer) => resolver.resolve(bearer), stores.ephemeral, clock, {
    maxAgeMs: config.principalCacheMaxAgeMs,
    maxEntries: config.principalCacheMaxEntries,
  });
  const limiter = new UsageLimiter(counter, stores.metering, meter, clock, { creditBalances: config.creditBalances });
  const authenticator = new Authenticator({
    resolve: config.principalCacheMaxAgeMs > 0 ? (bearer) => principalCache.lookup(bearer) : (bearer) => resolver.resolve(bearer),
    throttle: new FailureThrottle(counter, config.authFailuresPerMinute, clock),
    keysLastUsed: lastUsed((id, at, from) => stores.apiKeys.touchLastUsed(id, at, from), 'key'),
    appsLastUsed: lastUsed((id, at) => stores.connectedApps.touchLastUsed(id, at), 'app'),
  });
  const introspection = new IntrospectionService(authenticator, config.baseUrl);
  const passwordSignIn = new PasswordSignIn(accounts, new LoginThrottle(new FailureThrottle(counter, config.authFailuresPerMinute, clock), counter, clock));
  return {
    health: new HealthService(stores.health),
    accounts,
    seedImporter: new SeedImporter({ ...accountStores, accounts, apiKeys: stores.apiKeys, keys: apiKeys, format: config.apiKeyFormat, clients: stores.clients, clientService: clients }),
    audit,
    catalog,
    apiKeys,
    authenticator,
    resolver,
    limiter,
    meter,
    clients,
    clientAuthenticator: new ClientAuthenticator(stores.clients, stores.ephemeral, clock),
    connectedApps: new ConnectedAppsService({ connectedApps: stores.connectedApps, clients: stores.clients, oauth: stores.oauth, events, markers, audit, clock, series }),
    balances: new BalanceService({ metering: stores.metering, meter, limiter, audit, organizations: stores.organizations }),
    passwordSignIn,
    sessions: new SessionService({
      sessions: stores.sessions,
      accounts,
      signIn: passwordSignIn,
      members,
      catalog,
      clock,
      lifetimes: { idleMs: config.sessionIdleMinutes * 60_000, absoluteMs: config.sessionLifetimeHours * 3_600_000 },
    }),
    clientThrottle: new ClientAuthThrottle(new FailureThrottle(counter, config.authFailuresPerMinute, clock)),
    introspection,
    verification: new VerificationService(authenticator, introspection, limiter),
    principalCache,
    sharedRecords: shared,
    bearerEvents: events,
  };
}

export function createOAuthServer(config: Config, stores: Stores, services: Services, clock: Clock, logger?: Logger): Provider {
  const provider = createProvider({
    issuer: config.baseUrl,
    jwks: config.oauthKeys,
    cookieKeys: config.cookieKeys,
    accessTokenTtlSeconds: config.accessTokenTtlSeconds,
    refreshTokenLifetimeDays: config.refreshTokenLifetimeDays,
    catalog: services.catalog,
    store: stores.oauth,
    // Every token request reads its client and account: from the records shared by every bearer
    // of this instance, dropped when the events of their changes arrive (caching/shared-record-cache.ts).
    clients: { findById: async (id) => (await services.sharedRecords.readRecord(`client:${id}`, () => stores.clients.findById(id))).value },
    users: { findById: async (id) => (await services.sharedRecords.readRecord(`user:${id}`, () => stores.users.findById(id))).value },
    clock,
    // Whenever the provider ends a grant (a replayed code, refresh token reuse, /oauth/revoke),
    // the connected app ends too and every instance's cache is told.
    revokeGrant: (grantId) => services.connectedApps.revokeGrant(grantId),
  });
  provider.on('server_error', (_ctx: unknown, error: Error) => logger?.error({ err: { name: error.name, message: error.message } }, 'oauth server error'));
  return provider;
}

export function createHttpApp(config: Config, services: Services, logger: Logger, stores: Stores, clock: Clock = systemClock): Koa {
  const app = new Koa({ proxy: config.trustProxy, maxIpsCount: config.proxyHops, keys: config.cookieKeys });
  app.silent = true; // errors are logged by our handler, without request data

  const provider = createOAuthServer(config, stores, services, clock, logger);
  const interactions = new Interactions({
    provider,
    issuer: config.baseUrl,
    accounts: services.accounts,
    connectedApps: services.connectedApps,
    clients: stores.clients,
    catalog: services.catalog,
    signIn: services.passwordSignIn,
    csrfKey: config.cookieKeys[0]!,
  });
  const authenticated = authenticate(services.authenticator, services.limiter);
  const consoleDeps = {
    sessions: services.sessions,
    accounts: services.accounts,
    csrfKey: config.cookieKeys[0]!,
    brand: { name: config.brandName, color: config.brandColor, hasLogo: config.brandLogoFile !== null, labels: config.profile.console },
  };
  const routers: Router[] = [
    frontDoorRoutes(config.baseUrl, config.profile),
    healthRoutes(services.health, config.storeMode),
    meRoutes(authenticated, config.profile.me.fields),
    apiKeyRoutes(services.apiKeys, authenticated, config.bodyLimitBytes),
    auditRoutes(services.audit, authenticated),
    connectedAppRoutes(services.connectedApps, authenticated, config.bodyLimitBytes),
    balanceRoutes(services.balances, authenticated, config.bodyLimitBytes),
    interactionRoutes(interactions),
    consoleSessionRoutes({ ...consoleDeps, logoFile: config.brandLogoFile }),
    consoleKeyRoutes({ ...consoleDeps, keys: services.apiKeys, format: config.apiKeyFormat, clock }),
    consoleAppRoutes({ ...consoleDeps, apps: services.connectedApps }),
    consoleAuditRoutes({ ...consoleDeps, audit: services.audit }),
  ];
  for (const middleware of baseMiddleware(logger, config.profile.errors, config.proxyHops)) app.use(middleware);
  app.use(
    mountProvider({
      provider,
      apiScopes: services.catalog.all,
      before: {
        [OAUTH_ROUTES.token]: [clientThrottle(services.clientThrottle), refreshReplay({ windowSeconds: config.refreshReuseWindowSeconds, ephemeral: stores.ephemeral, clients: services.clientAuthenticator, clock })],
        [OAUTH_ROUTES.revocation]: [clientThrottle(services.clientThrottle), apiKeyRevocation(services.apiKeys, services.clientAuthenticator)],
      },
    }),
  );
  for (const router of routers) {
    app.use(methodNotAllowed(router));
    app.use(router.routes());
  }
  return app;
}

export async function createTessera(config: Config, options: TesseraOptions): Promise<Tessera> {
  const clock = options.clock ?? systemClock;
  const stores = await openStores(config, clock);
  // Every organization's plan must have limits: a deployment whose plans file lost one stops here.
  const unknownPlans = (await stores.organizations.plansInUse()).filter((plan) => !(plan in config.plans));
  if (unknownPlans.length > 0) {
    await stores.close();
    throw new Error(`organizations are on plans that the plans file (${config.plansFile ?? 'config/plans.json'}) lacks: ${unknownPlans.join(', ')}`);
  }
  const services = createServices(stores, config, { clock, hasher: options.hasher, logger: options.logger });
  // Until the subscription is up (and whenever it drops) the caches serve nothing.
  let unavailable: Error | undefined;
  const listeners = await Promise.all(
    [services.principalCache, services.clientAuthenticator, services.sharedRecords].map((cache) =>
      cache.start(services.bearerEvents).catch((error: unknown) => {
        unavailable ??= error as Error;
        return async () => undefined;
      }),
    ),
  );
  // One warning for the one cause, however many caches it disables.
  if (unavailable) options.logger.warn({ err: { message: unavailable.message } }, 'bearer events unavailable: caches disabled until Redis is back');
  const stopListening = async (): Promise<void> => {
    await Promise.all(listeners.map((stop) => stop()));
  };
  services.meter.start(config.usageFlushMs);
  const app = createHttpApp(config, services, options.logger, stores, clock);
  const koa = app.callback();
  const introspect = resourceServerHandler({
    clients: services.clientAuthenticator,
    throttle: services.clientThrottle,
    logger: options.logger,
    proxyHops: config.proxyHops,
  }, [introspectionEndpoint(services.introspection), verifyEndpoint(services.verification)]);
  return {
    config,
    logger: options.logger,
    stores,
    services,
    app,
    handler: (req, res) => {
      if (!introspect(req, res)) void koa(req, res);
    },
    close: async () => {
      await stopListening().catch(() => undefined);
      // What was counted and not written yet goes to the store of record before it closes.
      await services.meter.stop();
      await stores.close();
    },
  };
}
