import { Redis, type RedisOptions } from 'ioredis';
import { UnavailableError } from '../../errors/index.ts';
import type { Admission, AdmissionResult, AdmissionVerdict, EphemeralStore, HealthCheck } from '../../ports.ts';

interface AdmitCommand {
  tesseraAdmit(numberOfKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
}
import { redactUrl } from '../redact-url.ts';
import { withTimeout } from '../with-timeout.ts';

export interface RedisStoreOptions {
  /** Prefix for every key and channel, so that deployments (and test suites) can share a server. */
  keyPrefix: string;
  /** Start-up connection timeout and per-command timeout. */
  timeoutMs: number;
}

// INCR and start the window on the first hit, atomically; returns [count, ms left].
const INCREMENT_SCRIPT = `
local c = redis.call('INCR', KEYS[1])
if c == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {c, ttl}
`;

// One request's admission (ports.ts, Admission), decided and counted in one step.
// KEYS: n counters, m caps, then the balance's spent total when ARGV[4] is 1.
// ARGV: n, m, cost, has balance, credited, n limits, n reset times, m caps, m reset times.
// Returns: status (0 admitted, 1 counter, 2 cap, 3 balance, 4 balance unknown), index,
// has balance left (0/1), balance left, then the n counts and the m spent.
const ADMIT_SCRIPT = `
local n = tonumber(ARGV[1]); local m = tonumber(ARGV[2]); local cost = tonumber(ARGV[3])
local hasBalance = ARGV[4] == '1'; local credited = tonumber(ARGV[5])
local counts = {}; local spent = {}
for i = 1, n do counts[i] = tonumber(redis.call('GET', KEYS[i]) or '0') end
for j = 1, m do spent[j] = tonumber(redis.call('GET', KEYS[n + j]) or '0') end
local balanceSpent = false
if hasBalance then balanceSpent = redis.call('GET', KEYS[n + m + 1]) end
local left = nil
if balanceSpent then left = credited - tonumber(balanceSpent) end
local function reply(status, index)
  local out = {status, index, left == nil and 0 or 1, left or 0}
  for i = 1, n do out[#out + 1] = counts[i] end
  for j = 1, m do out[#out + 1] = spent[j] end
  return out
end
if hasBalance and cost > 0 and not balanceSpent then return reply(4, 0) end
for i = 1, n do if counts[i] + 1 > tonumber(ARGV[5 + i]) then return reply(1, i - 1) end end
if cost > 0 then
  for j = 1, m do if spent[j] + cost > tonumber(ARGV[5 + 2 * n + j]) then return reply(2, j - 1) end end
  if left ~= nil and cost > left then return reply(3, 0) end
end
for i = 1, n do
  counts[i] = redis.call('INCR', KEYS[i])
  if counts[i] == 1 then redis.call('PEXPIREAT', KEYS[i], ARGV[5 + n + i]) end
end
if cost > 0 then
  for j = 1, m do
    spent[j] = redis.call('INCRBY', KEYS[n + j], cost)
    if spent[j] == cost then redis.call('PEXPIREAT', KEYS[n + j], ARGV[5 + 2 * n + m + j]) end
  end
  if balanceSpent then
    redis.call('INCRBY', KEYS[n + m + 1], cost)
    left = left - cost
  end
end
return reply(0, 0)
`;

const VERDICTS = ['counter', 'cap', 'balance', 'balance-unknown'] as const;

/**
 * Redis behind the EphemeralStore port. Commands are not queued while disconnected
 * (enableOfflineQueue: false): a caller learns at once that Redis is down and falls back or
 * answers 503, instead of waiting on a queue. The client reconnects in the background forever.
 */
export class RedisEphemeralStore implements EphemeralStore {
  readonly health: HealthCheck;
  private readonly client: Redis;
  private subscriber: Redis | null = null;
  private subscriberReady = false;
  /** The subscriber's first attempt to connect, while it lasts. */
  private subscriberStarting: Promise<Redis> | null = null;
  private closing = false;
  /** Incremented whenever the subscriber connection drops: messages may have been missed. */
  private epoch = 0;
  private readonly handlers = new Map<string, Set<(message: string) => void>>();
  private readonly options: RedisStoreOptions;
  private readonly url: string;

  private constructor(url: string, options: RedisStoreOptions) {
    this.url = url;
    this.options = options;
    // Commands of the same moment share one round trip (verifications run many at once).
    this.client = new Redis(url, { ...this.clientOptions(), enableAutoPipelining: true });
    this.client.on('error', () => undefined); // surfaced through commands and readiness, not as crashes
    // Sent by its SHA once Redis knows it (EVALSHA), not as the whole script every time.
    this.client.defineCommand('tesseraAdmit', { lua: ADMIT_SCRIPT });
    this.health = { name: 'redis', ping: () => this.ping() };
  }

  static async open(url: string, options: RedisStoreOptions): Promise<RedisEphemeralStore> {
    const store = new RedisEphemeralStore(url, options);
    try {
      await withTimeout(store.client.connect(), options.timeoutMs, 'timed out');
      await store.ping();
    } catch (error) {
      store.client.disconnect();
      throw new Error(`Redis at ${redactUrl(url)} cannot be reached: ${(error as Error).message}`, { cause: error });
    }
    return store;
  }

  async ping(): Promise<void> {
    await this.call(() => this.client.ping());
  }

  async get(key: string): Promise<string | null> {
    return this.call(() => this.client.get(key));
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    await this.call(() => (ttlMs === undefined ? this.client.set(key, value) : this.client.set(key, value, 'PX', Math.max(1, Math.ceil(ttlMs)))));
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    const result = await this.call(() => this.client.set(key, value, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX'));
    return result === 'OK';
  }

  async delete(key: string): Promise<void> {
    await this.call(() => this.client.del(key));
  }

  async increment(key: string, windowMs: number): Promise<{ count: number; resetInMs: number }> {
    const [count, ttl] = (await this.call(() => this.client.eval(INCREMENT_SCRIPT, 1, key, String(Math.ceil(windowMs))))) as [number, number];
    return { count, resetInMs: ttl };
  }

  async admit(admission: Admission): Promise<AdmissionResult> {
    const { counters, caps, cost, balance } = admission;
    const keys = [...counters.map((c) => c.key), ...caps.map((c) => c.key), ...(balance ? [balance.spentKey] : [])];
    const args = [
      counters.length,
      caps.length,
      cost,
      balance ? 1 : 0,
      balance?.credited ?? 0,
      ...counters.map((c) => c.limit),
      ...counters.map((c) => c.resetAt),
      ...caps.map((c) => c.cap),
      ...caps.map((c) => c.resetAt),
    ].map(String);
    const reply = (await this.call(() => (this.client as unknown as AdmitCommand).tesseraAdmit(keys.length, ...keys, ...args))) as number[];
    const [status, index, hasLeft, left] = reply as [number, number, number, number];
    const refused = VERDICTS[status - 1]!;
    const verdict: AdmissionVerdict =
      status === 0 ? { admitted: true } : refused === 'counter' || refused === 'cap' ? { admitted: false, refusedBy: refused, index } : { admitted: false, refusedBy: refused };
    return { verdict, counts: reply.slice(4, 4 + counters.length), spent: reply.slice(4 + counters.length), balance: hasLeft === 1 ? left : null };
  }

  async publish(channel: string, message: string): Promise<void> {
    await this.call(() => this.client.publish(this.options.keyPrefix + channel, message));
  }

  /**
   * The handler is registered first: if Redis cannot be reached now, the channel is subscribed as
   * soon as the subscriber connects (and the call still rejects, so the caller knows).
   */
  async subscribe(channel: string, handler: (message: string) => void): Promise<() => Promise<void>> {
    const full = this.options.keyPrefix + channel;
    let set = this.handlers.get(full);
    const first = !set;
    if (!set) this.handlers.set(full, (set = new Set()));
    set.add(handler);
    const unsubscribe = async (): Promise<void> => {
      const current = this.handlers.get(full);
      current?.delete(handler);
      if (current && current.size === 0) {
        this.handlers.delete(full);
        await this.subscriber?.unsubscribe(full).catch(() => undefined);
      }
    };
    const subscriber = await this.subscriberConnection();
    if (first && this.subscriberReady) await this.call(() => subscriber.subscribe(full));
    return unsubscribe;
  }

  /** Healthy only once every channel is subscribed on the current connection. */
  subscriptionState(): { healthy: boolean; epoch: number } {
    return { healthy: this.subscriberReady, epoch: this.epoch };
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.allSettled([this.client.quit(), this.subscriber?.quit()]);
    this.client.disconnect();
    this.subscriber?.disconnect();
  }

  /**
   * A second connection: a Redis connection in subscriber mode can run no other commands. It
   * resubscribes by itself on every (re)connection and only then reports healthy, so that no
   * message can be missed while the cache believes it is listening.
   */
  private async subscriberConnection(): Promise<Redis> {
    if (this.subscriber) {
      if (this.subscriberReady) return this.subscriber;
      // Subscriptions that start together (every cache at start-up) wait for the first attempt
      // to connect; after it, not ready means not connected.
      if (this.subscriberStarting) return this.subscriberStarting;
      throw new UnavailableError('Redis subscriber is not connected', 2);
    }
    const subscriber = new Redis(this.url, { ...this.clientOptions(), autoResubscribe: false });
    subscriber.on('error', () => undefined);
    subscriber.on('ready', () => {
      const channels = [...this.handlers.keys()];
      const subscribed = channels.length === 0 ? Promise.resolve() : subscriber.subscribe(...channels).then(() => undefined);
      subscribed.then(
        () => {
          this.subscriberReady = true;
        },
        () => subscriber.disconnect(true), // try the whole connection again
      );
    });
    subscriber.on('close', () => {
      if (this.subscriberReady) this.epoch++;
      this.subscriberReady = false;
    });
    subscriber.on('message', (channel: string, message: string) => {
      for (const handler of this.handlers.get(channel) ?? []) handler(message);
    });
    this.subscriber = subscriber;
    this.subscriberStarting = this.call(async () => {
      await withTimeout(subscriber.connect(), this.options.timeoutMs, 'Redis subscriber connect timed out');
      await this.untilReady();
      return subscriber;
    }).finally(() => {
      this.subscriberStarting = null;
    });
    return this.subscriberStarting;
  }

  private async untilReady(): Promise<void> {
    const until = Date.now() + this.options.timeoutMs;
    while (!this.subscriberReady) {
      if (this.closing || Date.now() > until) throw new Error('Redis subscriber did not become ready');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  private clientOptions(): RedisOptions {
    return {
      lazyConnect: true,
      keyPrefix: this.options.keyPrefix,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: this.options.timeoutMs,
      // After a refused connection the socket never reports "close" again, and ioredis would keep
      // the process alive for its default 2 s before destroying it.
      disconnectTimeout: 200,
      commandTimeout: this.options.timeoutMs,
      retryStrategy: (attempt: number) => Math.min(attempt * 100, 1_000),
    };
  }

  private async call<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (error) {
      throw new UnavailableError('Redis is unreachable', 2, error);
    }
  }
}
