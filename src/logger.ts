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
}

export function createLogger(options: LoggerOptions): Logger {
  const destination = options.file === null ? pino.destination({ dest: 1, sync: true }) : pino.destination({ dest: options.file, sync: true, mkdir: true });
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
