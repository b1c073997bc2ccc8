/**
 * Runs after every other suite (scripts/test.sh runs it last): no password, key, token or
 * Authorization value that a test used may appear in any log line of the whole run.
 */
import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testLogDir } from '../support/log-capture.ts';
import { recordedSecrets, scanLogs } from './log-scan.ts';

describe('secrets in the logs of the whole test run', () => {
  it('the scanner finds a planted secret (so a clean result means something)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'scan-'));
    mkdirSync(join(dir, 'secrets'));
    writeFileSync(join(dir, 'secrets', '1.txt'), `${Buffer.from('tsr_live_planted/secret').toString('base64')}\n`);
    writeFileSync(join(dir, 'a.log'), '{"msg":"Authorization: Bearer tsr_live_planted%2Fsecret"}\n');
    writeFileSync(join(dir, 'b.log'), '{"msg":"nothing here"}\n');
    const result = scanLogs(dir, recordedSecrets(dir));
    expect(result.files).toBe(2);
    expect(result.hits).toEqual(['tsr_… in a.log']);
  });

  it('finds none of the secrets the tests used in any log', () => {
    const dir = testLogDir();
    const secrets = recordedSecrets(dir);
    const result = scanLogs(dir, secrets);
    // A whole run must actually have produced logs and used secrets, or this proves nothing; a
    // subset (`npm test -- <file>`) is scanned for whatever it wrote.
    if (process.env.TESSERA_TEST_WHOLE_RUN === '1') {
      expect(secrets.length).toBeGreaterThanOrEqual(5);
      expect(result.files).toBeGreaterThanOrEqual(5);
      expect(result.bytes).toBeGreaterThan(10_000);
    }
    console.log(`[leak scan] ${result.secrets} secrets × ${result.files} log files (${result.bytes} bytes): ${result.hits.length} hits`);
    expect(result.hits).toEqual([]);
  });
});
