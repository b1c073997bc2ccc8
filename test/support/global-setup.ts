import { startSharedServers } from './servers.ts';

/**
 * Integration and e2e suites run against a real MongoDB wire-protocol server and a real Redis:
 * MONGODB_URI / REDIS_URL when given, otherwise throwaway servers started here. A server that
 * cannot be started fails the run — suites never skip quietly.
 */
export default async function globalSetup(): Promise<void> {
  const started = await startSharedServers();
  const lines = [
    `MongoDB: ${started.mongo ? `${started.mongo.kind} started at ${started.mongo.url}` : `given by MONGODB_URI`}`,
    `Redis: ${started.redis ? `redis-server started at ${started.redis.url}` : `given by REDIS_URL`}`,
  ];
  console.log(`\n[tessera tests] ${lines.join('; ')}`);
}
