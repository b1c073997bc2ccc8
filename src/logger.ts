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
   * Write every line before returning, access lines included (tests that read the file right
   * away). Otherwise access lines are written in batches (see accessLog).
   */
  sync?: boolean;
}

/** Loggers whose access lines are written one by one (LoggerOptions.sync). */
const unbatched = new WeakSet<Logger>();

/**
 * Lines are written synchronously, as pino does by default. An asynchronous stream (writes on
 * libuv's thread pool) fell behind under load: its backlog stayed in memory long enough to be
 * promoted out of V8's young generation, which made every scavenge copy a megabyte of log text
 * (2–3 ms pauses that stall every request in flight) and forced full collections. What made
 * per-line writes expensive — one system call per request — is answered by batching the access
 * lines, the only lines written per request.
 */
export function createLogger(options: LoggerOptions): Logger {
  const destination = pino.destination({ dest: options.file ?? 1, sync: true, mkdir: options.file !== null });
  const logger = pino(
    {
      level: options.level,
      base: { service: 'tessera', pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
  if (options.sync === true) unbatched.add(logger);
  return logger;
}

/** One access-log line: fixed fields, none of which can carry a secret. */
export interface AccessEntry {
  requestId: string | undefined;
  method: string;
  /** The path only: never the query string, where a client may have put a token. */
  path: string;
  status: number;
  ms: number;
  ip: string;
}

export type AccessLog = (entry: AccessEntry) => void;

interface PinoInternals {
  [pino.symbols.streamSym]: { write(line: string): unknown; flushSync?: () => void; sync?: boolean };
  [pino.symbols.chindingsSym]: string;
}

/**
 * The access log of `logger`: the same stream, level and line shape as its other lines (level
 * label, ISO time, bindings, msg), written directly. An access line has fixed fields that hold no
 * secret, so it skips pino's generic serialisation and redaction, which cost 20 µs a line — more
 * than a tenth of an introspection. Unless the logger was made with `sync` (tests), access lines go
 * out in batches (see ACCESS_BATCH_CHARS), so an access line may follow a later line of another
 * kind by up to 100 ms; whatever is pending when the process exits is written before it exits.
 * Server errors are logged at error, health probes (every few seconds from orchestrators) at
 * debug, everything else at info.
 */
export function accessLog(logger: Logger): AccessLog {
  const internals = logger as unknown as PinoInternals;
  const stream = internals[pino.symbols.streamSym];
  const bindings = internals[pino.symbols.chindingsSym];
  const clock = isoClock();
  let pending = '';
  let timer: NodeJS.Timeout | undefined;
  const flush = (): void => {
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
    if (pending === '') return;
    const lines = pending;
    pending = '';
    stream.write(lines);
  };
  const batched = !unbatched.has(logger);
  const write = (line: string): void => {
    if (!batched) {
      stream.write(line);
      return;
    }
    pending += line;
    if (pending.length >= ACCESS_BATCH_CHARS) flush();
    else timer ??= setTimeout(flush, ACCESS_BATCH_MS).unref();
  };
  if (batched) {
    process.once('exit', () => {
      flush();
      try {
        // A stream written asynchronously (not one from createLogger) holds lines of its own.
        if (stream.sync !== true) stream.flushSync?.();
      } catch {
        // nothing more can be done while exiting
      }
    });
  }
  return (entry) => {
    const [level, msg] = entry.status >= 500 ? ['error', 'request failed'] : entry.path.startsWith('/health/') ? ['debug', 'request'] : ['info', 'request'];
    if (!logger.isLevelEnabled(level)) return;
    const requestId = entry.requestId === undefined ? '' : `,"requestId":${JSON.stringify(entry.requestId)}`;
    write(
      `{"level":"${level}","time":"${clock()}"${bindings}${requestId},"method":${JSON.stringify(entry.method)},` +
        `"path":${JSON.stringify(entry.path)},"status":${entry.status},"ms":${entry.ms},"ip":${JSON.stringify(entry.ip)},"msg":"${msg}"}\n`,
    );
  };
}

/**
 * Access lines are written in batches of about this many characters (some twenty lines)… Each
 * write to the log is a system call on the event loop, and under load one per request would cost
 * more than building the line.
 */
const ACCESS_BATCH_CHARS = 4096;
/** …or this long after the first line of a batch, whichever comes first. */
const ACCESS_BATCH_MS = 100;

/** The ISO time of now, formatted once per millisecond however many lines share it. */
function isoClock(): () => string {
  let at = 0;
  let text = '';
  return () => {
    const now = Date.now();
    if (now !== at) {
      at = now;
      text = new Date(now).toISOString();
    }
    return text;
  };
}

/** Milliseconds since `started` (process.hrtime.bigint()), to 0.01 ms. */
export function elapsedMs(started: bigint): number {
  return Math.round(Number(process.hrtime.bigint() - started) / 1e4) / 100;
}
