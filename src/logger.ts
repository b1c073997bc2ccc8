import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Fields that may hold a secret anywhere a log line could carry them. Tessera never logs request
 * headers or bodies in the first place; redaction is the second line of defence.
 */
export const REDACTED_PATHS = [
  'authorization',
  'cookie',
  'password',
  'passwordHash',
  'secret',
  'client_secret',
  'clientSecret',
  'key',
  'apiKey',
  'token',
  'access_token',
  'refresh_token',
  'code',
  'code_verifier',
  'headers.authorization',
  'headers.cookie',
  'headers["set-cookie"]',
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  '*.authorization',
  '*.password',
  '*.secret',
  '*.client_secret',
  '*.key',
  '*.token',
  '*.access_token',
  '*.refresh_token',
];

export interface LoggerOptions {
  level: string;
  /** Append to this file instead of stdout (tests collect every line to scan for secrets). */
  file: string | null;
  /**
   * Write each line before returning (tests that read the file right away). Otherwise lines are
   * written asynchronously and coalesced while a write is in flight — one synchronous write per
   * request cost Tessera most of its introspection throughput — and flushed when the process exits.
   */
  sync?: boolean;
}

export function createLogger(options: LoggerOptions): Logger {
  const sync = options.sync ?? false;
  const destination = pino.destination({ dest: options.file ?? 1, sync, mkdir: options.file !== null });
  if (!sync) {
    process.once('exit', () => {
      try {
        destination.flushSync();
      } catch {
        // nothing more can be done while exiting
      }
    });
  }
  return pino(
    {
      level: options.level,
      base: { service: 'tessera', pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
