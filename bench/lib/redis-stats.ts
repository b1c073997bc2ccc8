/**
 * What the benchmark's Redis did during a measured run, from its own counters (`INFO stats`,
 * `INFO commandstats`) read before and after the run: Tessera is its only other client, so the
 * differences are Tessera's (plus the one INFO command and two socket reads of the readings).
 *
 * - script calls: EVALSHA and EVAL, the commands Tessera sends to decide and count a request's
 *   limits (ioredis sends a script by its SHA, and the whole script once when Redis lacks it);
 * - commands: every command Redis ran, those a script runs included (total_commands_processed);
 * - round trips: socket reads Redis made of its clients' commands (total_reads_processed).
 *   ioredis's auto-pipelining writes the commands of one moment together: Redis reads such a
 *   batch at once (up to 16 KB a read) and answers it with one write, so a read is a round trip.
 */
import { Redis } from 'ioredis';

export interface RedisCounts {
  scriptCalls: number;
  commands: number;
  reads: number;
}

/** Per request of a run: the difference of two readings divided by the requests answered. */
export interface RedisPerRequest {
  scriptCalls: number;
  commands: number;
  roundTrips: number;
}

export interface RedisStats {
  read(): Promise<RedisCounts>;
  close(): Promise<void>;
}

export async function redisStats(url: string): Promise<RedisStats> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await client.connect();
  return {
    read: async () => {
      const info = String(await client.call('INFO', 'stats', 'commandstats'));
      return {
        scriptCalls: calls(info, 'evalsha') + calls(info, 'eval'),
        commands: field(info, 'total_commands_processed'),
        reads: field(info, 'total_reads_processed'),
      };
    },
    close: async () => {
      await client.quit().catch(() => client.disconnect());
    },
  };
}

export function perRequest(before: RedisCounts, after: RedisCounts, requests: number): RedisPerRequest {
  const per = (n: number): number => (requests === 0 ? Number.NaN : n / requests);
  return { scriptCalls: per(after.scriptCalls - before.scriptCalls), commands: per(after.commands - before.commands), roundTrips: per(after.reads - before.reads) };
}

function field(info: string, name: string): number {
  const match = new RegExp(`^${name}:(\\d+)`, 'm').exec(info);
  if (!match) throw new Error(`Redis INFO has no ${name}: Redis 6 or later is needed`);
  return Number(match[1]);
}

/** A command's calls from INFO commandstats (absent: never called). */
function calls(info: string, command: string): number {
  const match = new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(info);
  return match ? Number(match[1]) : 0;
}
