import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it, jest } from '@jest/globals';
import { pino } from 'pino';
import { accessLog, createLogger, type AccessEntry } from '../../src/logger.ts';

const entry = (overrides: Partial<AccessEntry> = {}): AccessEntry => ({ requestId: 'req-1', method: 'POST', path: '/oauth/introspect', status: 200, ms: 0.42, ip: '127.0.0.1', ...overrides });
const lines = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
const logFile = () => join(mkdtempSync(join(tmpdir(), 'tessera-log-')), 'app.log');
/** The file's lines once it holds `count` of them (an asynchronous stream opens and writes later). */
async function eventually(file: string, count: number): Promise<Array<Record<string, unknown>>> {
  for (let waited = 0; waited < 5_000; waited += 20) {
    const found = existsSync(file) ? lines(file) : [];
    if (found.length >= count) return found;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`${file} never held ${count} lines`);
}

describe('accessLog', () => {
  it('writes pino’s line shape, with the level each status calls for', () => {
    const file = logFile();
    const logger = createLogger({ level: 'info', file, sync: true });
    const access = accessLog(logger);
    access(entry());
    access(entry({ requestId: 'req-2', status: 503, path: '/oauth/token' }));
    access(entry({ requestId: 'req-3', path: '/health/ready', method: 'GET' })); // debug: below info
    access(entry({ requestId: undefined, path: '/weird "path"\n', ip: '::1' }));
    logger.info({ requestId: 'req-4' }, 'a line from pino itself');
    const [ok, failed, odd, own] = lines(file);
    expect(ok).toEqual({ level: 'info', time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/), service: 'tessera', pid: process.pid, requestId: 'req-1', method: 'POST', path: '/oauth/introspect', status: 200, ms: 0.42, ip: '127.0.0.1', msg: 'request' });
    expect(failed).toMatchObject({ level: 'error', requestId: 'req-2', status: 503, msg: 'request failed' });
    expect(odd).toMatchObject({ level: 'info', path: '/weird "path"\n', ip: '::1' });
    expect(odd).not.toHaveProperty('requestId');
    // The same keys as pino's own lines, so that one parser reads both.
    expect(Object.keys(own!).slice(0, 4)).toEqual(Object.keys(ok!).slice(0, 4));
  });

  it('honours the logger’s level', () => {
    const file = logFile();
    const logger = createLogger({ level: 'warn', file, sync: true });
    const access = accessLog(logger);
    access(entry());
    access(entry({ requestId: 'req-5', status: 500 }));
    expect(lines(file).map((l) => l.requestId)).toEqual(['req-5']);
  });

  it('unless made sync, writes every line, in order, across turns of the event loop', async () => {
    const file = logFile();
    const logger = createLogger({ level: 'info', file });
    const access = accessLog(logger);
    for (let i = 0; i < 100; i++) access(entry({ requestId: `req-${i}` }));
    await new Promise((resolve) => setImmediate(resolve));
    access(entry({ requestId: 'next-turn' }));
    await new Promise((resolve) => setImmediate(resolve));
    expect((await eventually(file, 101)).map((l) => l.requestId)).toEqual([...Array.from({ length: 100 }, (_, i) => `req-${i}`), 'next-turn']);
  });

  it('writes access lines in batches: at about 4 KB, or 100 ms after a batch’s first line', () => {
    jest.useFakeTimers();
    try {
      const writes: string[] = [];
      const access = accessLog(pino({ level: 'info' }, { write: (chunk: string) => void writes.push(chunk) }));
      access(entry({ requestId: 'a' }));
      access(entry({ requestId: 'b' }));
      jest.advanceTimersByTime(99);
      expect(writes).toEqual([]);
      jest.advanceTimersByTime(1);
      expect(writes).toHaveLength(1);
      expect(writes[0]!.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { requestId: string }).requestId)).toEqual(['a', 'b']);

      // A full batch goes out at once, without waiting for the timer.
      let sent = 0;
      while (writes.length === 1) access(entry({ requestId: `bulk-${sent++}` }));
      expect(writes[1]!.length).toBeGreaterThanOrEqual(4096);
      expect(writes[1]!.split('\n').filter(Boolean)).toHaveLength(sent);
      expect(jest.getTimerCount()).toBe(0);
    } finally {
      jest.useRealTimers();
    }
  });

  it('writes the lines still held back when the process exits', () => {
    const file = logFile();
    const script = [
      `import { accessLog, createLogger } from ${JSON.stringify(join(import.meta.dirname, '../../src/logger.ts'))};`,
      `const access = accessLog(createLogger({ level: 'info', file: ${JSON.stringify(file)} }));`,
      `access({ requestId: 'last-words', method: 'POST', path: '/oauth/introspect', status: 200, ms: 1, ip: '127.0.0.1' });`,
      'process.exit(0);',
    ].join('\n');
    const run = spawnSync(process.execPath, ['--disable-warning=ExperimentalWarning', '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(lines(file).map((l) => l.requestId)).toEqual(['last-words']);
  });
});
