/**
 * One load run of a token case with wrk and bench/lib/wrk-token-queue.lua: each request presents a
 * token from a queue exactly once — refresh tokens in chains (every answer's new refresh token is
 * what the next request of its chain presents), or authorization codes, each once. The queue is
 * written to a file that the script reads; what the script counted comes back with wrk's figures.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LoadResult } from './load.ts';
import { spawnWrk, toLoadResult } from './load-wrk.ts';

export interface TokenQueue {
  path: string;
  authorization: string;
  /**
   * `chain`: `bodies` are `prefix + refresh token`, and each answer's refresh token goes back as
   * `prefix + token`; `once`: each body is sent once (codes).
   */
  mode: { kind: 'chain'; prefix: string } | { kind: 'once' };
  bodies: string[];
}

export interface TokenLoadResult extends LoadResult {
  /** The queue ran dry before the run's end (codes used up, or chains lost): the rate is over the busy time. */
  exhausted: boolean;
  /** Every answer the script saw (200 or not). */
  answered: number;
  /** Answers with HTTP 200 but no Bearer token type or no refresh token, or one already seen. */
  malformed: number;
  repeated: number;
  /** Tokens still queued at the end (for chains: the chains that were not in flight). */
  left: number;
}

export async function runTokenQueue(url: string, queue: TokenQueue, connections: number, durationSeconds: number, tmpDir: string): Promise<TokenLoadResult> {
  // One line each in the data file: printable ASCII (a form body or path has no space to begin with).
  for (const line of [queue.path, ...queue.bodies]) {
    if (!/^[\x21-\x7e]+$/.test(line)) throw new Error(`token queue lines must be printable ASCII without spaces: ${JSON.stringify(line.slice(0, 80))}`);
  }
  if (!/^[\x20-\x7e]+$/.test(queue.authorization)) throw new Error('the Authorization value must be printable ASCII');
  if (queue.mode.kind === 'chain' && queue.bodies.length < 2 * connections) {
    throw new Error(`${queue.bodies.length} chains for ${connections} connections: at least twice as many are needed, so that a connection always finds one`);
  }
  const data = join(tmpDir, 'wrk-token-queue.txt');
  const mode = queue.mode.kind === 'chain' ? `chain ${queue.mode.prefix}` : 'once';
  writeFileSync(data, `${[queue.path, queue.authorization, mode, ...queue.bodies].join('\n')}\n`);
  const script = join(import.meta.dirname, 'wrk-token-queue.lua');
  const w = await spawnWrk(['-t1', `-c${connections}`, `-d${durationSeconds}s`, '--timeout', '10s', '-s', script, url, '--', data]);
  const exhausted = w['exhausted'] === 1;
  return {
    ...toLoadResult(w, exhausted && w['busy_us']! > 0 ? w['busy_us']! / 1e6 : undefined),
    exhausted,
    answered: w['answered']!,
    malformed: w['malformed']!,
    repeated: w['repeated']!,
    left: w['left']!,
  };
}
