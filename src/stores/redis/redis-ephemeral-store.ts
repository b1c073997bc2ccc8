import { Redis, type RedisOptions } from 'ioredis';
import { UnavailableError } from '../../errors/index.ts';
import type { Admission, AdmissionResult, AdmissionVerdict, EphemeralStore, HealthCheck } from '../../ports.ts';

interface AdmitCommand {
  tesseraAdmit(numberOfKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
}

interface LockCommands {
  tesseraReadOrLock(numberOfKeys: 2, key: string, lockKey: string, lockTtlMs: string): Promise<[number, string | number]>;
  tesseraSetAndUnlock(numberOfKeys: 2, key: string, lockKey: string, value: string, ttlMs: string): Promise<number>;
}
import { redactUrl } from '../redact-url.ts';
import { withTimeout } from '../with-timeout.ts';

export interface RedisStoreOptions {
  /** Prefix for every key and channel, so that deployments (and test suites) can share a server. */
  keyPrefix: string;
  /** Start-up connection timeout and per-command timeout. */
  timeoutMs: number;
}

// The value, or the lock when the value is absent: [1, value] or [0, 1 when locked else 0].
const READ_OR_LOCK_SCRIPT = `
local v = redis.call('GET', KEYS[1])
if v then return {1, v} end
if redis.call('SET', KEYS[2], '1', 'PX', ARGV[1], 'NX') then return {0, 1} end
return {0, 0}
`;

const SET_AND_UNLOCK_SCRIPT = `
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('DEL', KEYS[2])
return 1
`;

// INCR and start the window on the first hit, atomically; returns [count, ms left].
const INCREMENT_SCRIPT = `
local c = redis.call('INCR', KEYS[1])
if c == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {c, ttl}
`;

// Admissions (ports.ts, Admission), each decided and counted in one step, one after another.
// ARGV[1]: how many. Then per admission, its keys in KEYS from offset k and its arguments in
// ARGV from offset a (both advance past them):
// KEYS: n counters, m caps, then the balance's spent total when has balance is 1.
// ARGV: n, m, cost, has balance, credited, n limits, n reset times, m caps, m reset times.
// Returns per admission: status (0 admitted, 1 counter, 2 cap, 3 balance, 4 balance unknown, 5 cap unknown),
// index, has balance left (0/1), balance left, then the n counts and the m spent.
const ADMIT_SCRIPT = `
local function admit(k, a)
  local n = tonumber(ARGV[a + 1]); local m = tonumber(ARGV[a + 2]); local cost = tonumber(ARGV[a + 3])
  local hasBalance = ARGV[a + 4] == '1'; local credited = tonumber(ARGV[a + 5])
  local counts = {}; local spent = {}
  for i = 1, n do counts[i] = tonumber(redis.call('GET', KEYS[k + i]) or '0') end
  local capKnown = {}
  for j = 1, m do
    local raw = redis.call('GET', KEYS[k + n + j])
    capKnown[j] = raw ~= false; spent[j] = tonumber(raw or '0')
  end
  local balanceSpent = false
  if hasBalance then balanceSpent = redis.call('GET', KEYS[k + n + m + 1]) end
  local left = nil
  if balanceSpent then left = credited - tonumber(balanceSpent) end
  local function reply(status, index)
    local out = {status, index, left == nil and 0 or 1, left or 0}
    for i = 1, n do out[#out + 1] = counts[i] end
    for j = 1, m do out[#out + 1] = spent[j] end
    return out
  end
  if hasBalance and cost > 0 and not balanceSpent then return reply(4, 0) end
  if cost > 0 then for j = 1, m do if not capKnown[j] then return reply(5, j - 1) end end end
  for i = 1, n do if counts[i] + 1 > tonumber(ARGV[a + 5 + i]) then return reply(1, i - 1) end end
  if cost > 0 then
    for j = 1, m do if spent[j] + cost > tonumber(ARGV[a + 5 + 2 * n + j]) then return reply(2, j - 1) end end
    if left ~= nil and cost > left then return reply(3, 0) end
  end
  for i = 1, n do
    counts[i] = redis.call('INCR', KEYS[k + i])
    if counts[i] == 1 then redis.call('PEXPIREAT', KEYS[k + i], ARGV[a + 5 + n + i]) end
  end
  if cost > 0 then
    for j = 1, m do
      spent[j] = redis.call('INCRBY', KEYS[k + n + j], cost)
      if spent[j] == cost then redis.call('PEXPIREAT', KEYS[k + n + j], ARGV[a + 5 + 2 * n + m + j]) end
    end
    if balanceSpent then
      redis.call('INCRBY', KEYS[k + n + m + 1], cost)
      left = left - cost
    end
  end
  return reply(0, 0)
end
local replies = {}
local k = 0; local a = 1
for x = 1, tonumber(ARGV[1]) do
  local n = tonumber(ARGV[a + 1]); local m = tonumber(ARGV[a + 2])
  replies[x] = admit(k, a)
  k = k + n + m + (ARGV[a + 4] == '1' and 1 or 0)
  a = a + 5 + 2 * n + 2 * m
end
return replies
`;

/**
 * The most admissions one script call decides; a call is sent as soon as it holds this many.
 * Requests that arrive together would otherwise travel together, all waiting on one call while
 * this process, with nothing else to do, waits too; in calls of this size, the first are decided
 * while the rest are still being read. Smaller calls cost more per request (each is a command to
 * build, write, run and answer).
 */
const ADMISSIONS_PER_CALL = 16;

interface PendingAdmission {
  admission: Admission;
  resolve: (result: AdmissionResult) => void;
  reject: (error: unknown) => void;
}

const VERDICTS = ['counter', 'cap', 'balance', 'balance-unknown', 'cap-unknown'] as const;

function admissionResult(admission: Admission, reply: number[]): AdmissionResult {
  const [status, index, hasLeft, left] = reply as [number, number, number, number];
  const refused = VERDICTS[status - 1]!;
  const verdict: AdmissionVerdict =
    status === 0 ? { admitted: true } : refused === 'balance' || refused === 'balance-unknown' ? { admitted: false, refusedBy: refused } : { admitted: false, refusedBy: refused, index };
  const n = admission.counters.length;
  return { verdict, counts: reply.slice(4, 4 + n), spent: reply.slice(4 + n), balance: hasLeft === 1 ? left : null };
}

/**
 * Redis behind the EphemeralStore port. Commands are not queued while disconnected
 * (enableOfflineQueue: false): a caller learns at once that Redis is down and falls back or
 * answers 503, instead of waiting on a queue. The client reconnects in the background forever.
 */
export class RedisEphemeralStore implements EphemeralStore {
  readonly shared: boolean = true;
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
  /** Admissions asked for and not sent yet: sent when ADMISSIONS_PER_CALL are, or at the end of this turn of the event loop. */
  private admissions: PendingAdmission[] = [];
  private sendScheduled = false;

  private constructor(url: string, options: RedisStoreOptions) {
    this.url = url;
    this.options = options;
    // Commands of the same moment share one round trip. Admissions are batched by admit() itself
    // into script calls, each sent as soon as it is made: ioredis sends an automatic pipeline
    // only once the previous one is answered, which left this process idle while Redis worked.
    this.client = new Redis(url, { ...this.clientOptions(), enableAutoPipelining: true, autoPipeliningIgnoredCommands: ['tesseraAdmit'] });
    this.client.on('error', () => undefined); // surfaced through commands and readiness, not as crashes
    // Sent by its SHA once Redis knows it (EVALSHA), not as the whole script every time.
    this.client.defineCommand('tesseraAdmit', { lua: ADMIT_SCRIPT });
    this.client.defineCommand('tesseraReadOrLock', { lua: READ_OR_LOCK_SCRIPT });
    this.client.defineCommand('tesseraSetAndUnlock', { lua: SET_AND_UNLOCK_SCRIPT });
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

  async readOrLock(key: string, lockKey: string, lockTtlMs: number): Promise<{ value: string | null; locked: boolean }> {
    const client = this.client as unknown as LockCommands;
    const [found, result] = await this.call(() => client.tesseraReadOrLock(2, key, lockKey, String(Math.max(1, Math.ceil(lockTtlMs)))));
    return found === 1 ? { value: String(result), locked: false } : { value: null, locked: result === 1 };
  }

  async setAndUnlock(key: string, value: string, ttlMs: number, lockKey: string): Promise<void> {
    const client = this.client as unknown as LockCommands;
    await this.call(() => client.tesseraSetAndUnlock(2, key, lockKey, value, String(Math.max(1, Math.ceil(ttlMs)))));
  }

  async increment(key: string, windowMs: number): Promise<{ count: number; resetInMs: number }> {
    const [count, ttl] = (await this.call(() => this.client.eval(INCREMENT_SCRIPT, 1, key, String(Math.ceil(windowMs))))) as [number, number];
    return { count, resetInMs: ttl };
  }

  /**
   * Admissions asked for together (the requests that arrived in one turn of the event loop) are
   * decided in one script call, one round trip, up to ADMISSIONS_PER_CALL of them: per admission
   * the client only adds its keys and arguments. Each is still decided and counted atomically,
   * in the order asked.
   */
  admit(admission: Admission): Promise<AdmissionResult> {
    return new Promise((resolve, reject) => {
      this.admissions.push({ admission, resolve, reject });
      if (this.admissions.length >= ADMISSIONS_PER_CALL) {
        this.sendAdmissions();
      } else if (!this.sendScheduled) {
        this.sendScheduled = true;
        setImmediate(this.sendAtEndOfTurn);
      }
    });
  }

  private readonly sendAtEndOfTurn = (): void => {
    this.sendScheduled = false;
    this.sendAdmissions();
  };

  private sendAdmissions(): void {
    if (this.admissions.length === 0) return;
    const batch = this.admissions;
    this.admissions = [];
    this.decide(batch);
  }

  private decide(batch: PendingAdmission[]): void {
    const keys: string[] = [];
    const args: string[] = [String(batch.length)];
    for (const { admission } of batch) {
      const { counters, caps, cost, balance } = admission;
      for (const c of counters) keys.push(c.key);
      for (const c of caps) keys.push(c.key);
      if (balance) keys.push(balance.spentKey);
      args.push(String(counters.length), String(caps.length), String(cost), balance ? '1' : '0', String(balance?.credited ?? 0));
      for (const c of counters) args.push(String(c.limit));
      for (const c of counters) args.push(String(c.resetAt));
      for (const c of caps) args.push(String(c.cap));
      for (const c of caps) args.push(String(c.resetAt));
    }
    this.call(() => (this.client as unknown as AdmitCommand).tesseraAdmit(keys.length, ...keys, ...args)).then(
      (replies) => {
        batch.forEach((pending, i) => pending.resolve(admissionResult(pending.admission, (replies as number[][])[i]!)));
      },
      (error: unknown) => {
        for (const pending of batch) pending.reject(error);
      },
    );
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
