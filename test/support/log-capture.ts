/**
 * Every log line the test run produces goes to files under one directory, and every secret a test
 * uses (passwords, keys, Authorization values) is recorded next to them; test/leaks/ then scans
 * the logs for the secrets after all other suites have run.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';

const ROOT = resolve(import.meta.dirname, '../..');

export function testLogDir(): string {
  const dir = process.env.TESSERA_TEST_LOG_DIR ?? join(ROOT, 'test-logs');
  mkdirSync(join(dir, 'secrets'), { recursive: true });
  return dir;
}

/** A fresh log file for one app instance or process of a suite. */
export function testLogFile(label: string): string {
  const safe = label.replace(/[^A-Za-z0-9_.-]+/g, '-');
  return join(testLogDir(), `${safe}-${process.pid}-${randomBytes(3).toString('hex')}.log`);
}

export const MIN_SECRET_LENGTH = 12;

/** Records a secret used by a test, for the log scan. Returns it, to wrap values inline. */
export function recordSecret<T extends string>(secret: T): T {
  // Values this short (a bare "Bearer", a deliberately bad "x") are words, not secrets: scanning
  // for them would find ordinary text.
  if (secret.length < MIN_SECRET_LENGTH) return secret;
  appendFileSync(join(testLogDir(), 'secrets', `${process.pid}.txt`), `${Buffer.from(secret).toString('base64')}\n`);
  return secret;
}
