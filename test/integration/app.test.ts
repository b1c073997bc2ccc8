/**
 * Start-up of the composition root on MongoDB + Redis: the caches' bearer-event subscriptions
 * warn once when Redis really cannot carry them, and never on a healthy start (a warning on every
 * start trains operators to ignore the real one).
 */
import { readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import mongoose from 'mongoose';
import { createTessera } from '../../src/app.ts';
import { startRedis, type RunningServer } from '../support/servers.ts';
import { testConfig, testLogger } from '../support/test-config.ts';
import { mongoUriFor, redisUrl, uniqueName } from '../support/unique.ts';

const WARNING = 'bearer events unavailable';

async function startedWith(redis: string): Promise<string> {
  const database = uniqueName('app');
  const config = testConfig({ MONGODB_URI: mongoUriFor(database), REDIS_URL: redis, TESSERA_REDIS_PREFIX: `${database}:`, TESSERA_STORE_TIMEOUT_MS: '1000' }, 'app-start');
  const tessera = await createTessera(config, { logger: testLogger(config) });
  await tessera.close();
  const connection = await mongoose.createConnection(mongoUriFor(database)).asPromise();
  await connection.dropDatabase();
  await connection.close();
  return readFileSync(config.logFile!, 'utf8');
}

/** One command on a raw connection, closed after its answer. */
async function redisCommand(url: string, ...args: string[]): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = createConnection(Number(port), hostname, () => socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`));
    socket.once('data', (data) => {
      socket.end();
      // Answered once the server has closed it too (it counts against maxclients until then).
      socket.once('close', () => resolve(data.toString()));
    });
    socket.once('error', reject);
  });
}

describe('start-up on MongoDB + Redis', () => {
  let crowded: RunningServer;
  beforeAll(async () => {
    crowded = await startRedis();
  });
  afterAll(async () => {
    await crowded.stop();
  });

  it('subscribes every cache to bearer events without a warning', async () => {
    const log = await startedWith(redisUrl());
    expect(log).not.toContain(WARNING);
  });

  it('warns once when the subscription cannot be made (Redis refuses a second connection), however many caches it disables', async () => {
    expect(await redisCommand(crowded.url, 'CONFIG', 'SET', 'maxclients', '1')).toBe('+OK\r\n');
    const log = await startedWith(crowded.url);
    expect(log.split('\n').filter((line) => line.includes(WARNING))).toHaveLength(1);
  });
});
