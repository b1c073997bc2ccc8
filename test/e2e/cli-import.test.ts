/**
 * `npm run tessera -- import <file>` against MongoDB + Redis: loads, is idempotent, and loads
 * nothing from an invalid file.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mongoose, { type Connection } from 'mongoose';
import { recordSecret } from '../support/log-capture.ts';
import { runToExit } from '../support/tessera-process.ts';
import { mongoUriFor, redisUrl, uniqueName } from '../support/unique.ts';

const dir = mkdtempSync(join(tmpdir(), 'tessera-import-'));
let env: Record<string, string>;
let db: Connection;

function file(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(content));
  return path;
}

const SEED = {
  users: [
    { id: 'u_alice', email: 'alice@example.com', password: recordSecret('alice-cli-password-1'), name: 'Alice' },
    { email: 'bob@example.com' },
  ],
  organizations: [{ id: 'o_acme', name: 'Acme', plan: 'team' }],
  memberships: [
    { user: 'u_alice', org: 'o_acme', role: 'owner' },
    { user: 'bob@example.com', org: 'o_acme', role: 'editor' },
  ],
};

beforeAll(async () => {
  const uri = mongoUriFor(uniqueName('e2e_cli'));
  env = { MONGODB_URI: uri, REDIS_URL: redisUrl(), TESSERA_REDIS_PREFIX: `${uniqueName('cli')}:` };
  db = await mongoose.createConnection(uri).asPromise();
});

afterAll(async () => {
  await db.dropDatabase();
  await db.close();
});

describe('tessera import', () => {
  it('loads a seed file into MongoDB', async () => {
    const { code, output } = await runToExit('src/cli.ts', ['import', file('seed.json', SEED)], env, 'cli-import');
    expect(output).toContain('users: 2 created, 0 updated, 0 unchanged');
    expect(output).toContain('organizations: 1 created, 0 updated, 0 unchanged');
    expect(output).toContain('memberships: 2 created, 0 updated, 0 unchanged');
    expect(code).toBe(0);
    const alice = await db.collection('users').findOne({ _id: 'u_alice' as never });
    expect(alice).toMatchObject({ email: 'alice@example.com', emailNormalized: 'alice@example.com', name: 'Alice' });
    expect(alice!.passwordHash).toMatch(/^\$argon2id\$/);
    expect(await db.collection('memberships').countDocuments({ orgId: 'o_acme' })).toBe(2);
  });

  it('changes nothing when run again', async () => {
    const before = await db.collection('users').find({}).sort({ _id: 1 }).toArray();
    const { code, output } = await runToExit('src/cli.ts', ['import', file('seed.json', SEED)], env, 'cli-import-again');
    expect(code).toBe(0);
    expect(output).toContain('users: 0 created, 0 updated, 2 unchanged');
    expect(output).toContain('memberships: 0 created, 0 updated, 2 unchanged');
    expect(await db.collection('users').find({}).sort({ _id: 1 }).toArray()).toEqual(before);
  });

  it('refuses an invalid file naming the entry and field, and loads nothing from it', async () => {
    const bad = file('bad.json', {
      users: [{ id: 'u_carol', email: 'carol@example.com' }],
      memberships: [{ user: 'u_carol', org: 'o_acme', role: 'emperor' }],
    });
    const { code, output } = await runToExit('src/cli.ts', ['import', bad], env, 'cli-import-bad');
    expect(code).toBe(1);
    expect(output).toContain('tessera: memberships[0].role: must be one of owner, admin, editor, viewer');
    expect(await db.collection('users').findOne({ _id: 'u_carol' as never })).toBeNull();
  });

  it('explains its usage', async () => {
    const { code, output } = await runToExit('src/cli.ts', ['frobnicate'], env, 'cli-usage');
    expect(code).toBe(2);
    expect(output).toContain('unknown command "frobnicate"');
    expect(output).toContain('import <file.json>');
  });
});

describe('the CLI without stores of record (the embedded mode)', () => {
  it.each([
    [['import', 'seed.json']],
    [['keys', 'create', '--user', 'demo@tessera.local', '--org', 'org_demo']],
    [['clients', 'create', '--name', 'Zapier', '--redirect-uri', 'https://zapier.example/cb', '--scopes', 'leads:read']],
  ])('refuses %j in one line that says why and what to do, writing nothing', async (args) => {
    const { code, output } = await runToExit('src/cli.ts', args, {}, 'cli-embedded');
    expect(code).toBe(1);
    const lines = output.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^tessera: no store of record is configured \(MONGODB_URI and REDIS_URL\).*Set both.*npm run tessera -- demo/);
  });
});
