import { randomBytes } from 'node:crypto';

/** A name no other suite or run uses: database names and Redis key prefixes per suite. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
}

/** The shared MongoDB server's URL with a database of this suite's own. */
export function mongoUriFor(database: string): string {
  const base = process.env.MONGODB_URI;
  if (!base) throw new Error('MONGODB_URI is not set: the integration global setup did not run (run the suites with npm test)');
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
}

export function redisUrl(): string {
  const url = process.env.REDIS_URL;
  if (!url) throw new Error('REDIS_URL is not set: the integration global setup did not run (run the suites with npm test)');
  return url;
}
