import { beforeEach, describe, expect, it } from '@jest/globals';
import { createServices, openMemoryStores } from '../../../../src/app.ts';
import { ValidationError } from '../../../../src/errors/index.ts';
import type { Stores } from '../../../../src/ports.ts';
import type { SeedImporter } from '../../../../src/services/seed/seed-importer.ts';
import type { BearerResolver } from '../../../../src/services/authentication/bearer-resolver.ts';
import { hashKey } from '../../../../src/domain/key-hash.ts';
import { BearerEvents, type BearerEvent } from '../../../../src/services/revocation/bearer-events.ts';
import { argon2idHasher } from '../../../../src/services/accounts/password-hasher.ts';
import { FrozenClock } from '../../../support/frozen-clock.ts';
import { recordSecret } from '../../../support/log-capture.ts';
import { testConfig } from '../../../support/test-config.ts';

const ALICE_PASSWORD = recordSecret('alice-correct-horse-1');

const SEED = {
  users: [
    { id: 'u_alice', email: 'Alice@Example.com', password: ALICE_PASSWORD, name: 'Alice' },
    { email: 'bob@example.com', name: 'Bob' },
  ],
  organizations: [{ id: 'o_acme', name: 'Acme', plan: 'team' }, { name: 'Globex' }],
  memberships: [
    { user: 'u_alice', org: 'o_acme', role: 'owner' },
    { user: 'bob@example.com', org: 'o_acme', role: 'viewer' },
    { user: 'u_alice', org: 'Globex', role: 'admin' },
  ],
  clients: [],
  api_keys: [],
};

let stores: Stores;
let importer: SeedImporter;
let resolver: BearerResolver;

beforeEach(() => {
  const clock = new FrozenClock();
  stores = openMemoryStores(clock);
  const services = createServices(stores, testConfig({ TESSERA_SCOPES: 'leads:read leads:write' }), { clock });
  importer = services.seedImporter;
  resolver = services.resolver;
});

async function refusal(input: unknown): Promise<ValidationError> {
  const error = await importer.import(input).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ValidationError);
  return error as ValidationError;
}

describe('SeedImporter', () => {
  it('loads users, organizations and memberships, keeping given ids', async () => {
    const summary = await importer.import(SEED);
    expect(summary).toEqual({
      users: { created: 2, updated: 0, unchanged: 0 },
      organizations: { created: 2, updated: 0, unchanged: 0 },
      memberships: { created: 3, updated: 0, unchanged: 0 },
      api_keys: { created: 0, updated: 0, unchanged: 0 },
      clients: { created: 0, updated: 0, unchanged: 0 },
    });
    const alice = await stores.users.findById('u_alice');
    expect(alice).toMatchObject({ email: 'Alice@Example.com', name: 'Alice', disabled: false });
    expect(alice!.passwordHash).toMatch(/^\$argon2id\$/);
    expect(await argon2idHasher.verify(alice!.passwordHash!, ALICE_PASSWORD)).toBe(true);
    const bob = await stores.users.findByEmail('bob@example.com');
    expect(bob?.id).toMatch(/^usr_/);
    expect(bob?.passwordHash).toBeNull();
    expect(await stores.organizations.findById('o_acme')).toMatchObject({ name: 'Acme', plan: 'team' });
    expect((await stores.memberships.find(bob!.id, 'o_acme'))?.role).toBe('viewer');
    const aliceOrgs = await stores.memberships.listForUser('u_alice');
    expect(aliceOrgs.map((m) => m.role).sort()).toEqual(['admin', 'owner']);
    const globex = aliceOrgs.find((m) => m.role === 'admin')!;
    expect((await stores.organizations.findById(globex.orgId))?.name).toBe('Globex');
  });

  it('is idempotent: a second import changes nothing', async () => {
    await importer.import(SEED);
    const aliceBefore = await stores.users.findById('u_alice');
    const bobBefore = await stores.users.findByEmail('bob@example.com');
    const summary = await importer.import(SEED);
    expect(summary).toEqual({
      users: { created: 0, updated: 0, unchanged: 2 },
      organizations: { created: 0, updated: 0, unchanged: 2 },
      memberships: { created: 0, updated: 0, unchanged: 3 },
      api_keys: { created: 0, updated: 0, unchanged: 0 },
      clients: { created: 0, updated: 0, unchanged: 0 },
    });
    expect(await stores.users.findById('u_alice')).toEqual(aliceBefore); // the hash was not redone
    expect(await stores.users.findByEmail('bob@example.com')).toEqual(bobBefore);
  });

  it('applies what changed in a later import', async () => {
    await importer.import(SEED);
    const changed = structuredClone(SEED);
    changed.organizations[0]!.plan = 'premium';
    changed.memberships[1]!.role = 'editor';
    const summary = await importer.import(changed);
    expect(summary.organizations).toEqual({ created: 0, updated: 1, unchanged: 1 });
    expect(summary.memberships).toEqual({ created: 0, updated: 1, unchanged: 2 });
    expect((await stores.organizations.findById('o_acme'))?.plan).toBe('premium');
  });

  it('accepts an argon2id hash brought from another system', async () => {
    const hash = await argon2idHasher.hash(recordSecret('migrated-password-9'));
    await importer.import({ users: [{ id: 'u_m', email: 'm@example.com', password_hash: hash }] });
    expect((await stores.users.findById('u_m'))?.passwordHash).toBe(hash);
  });

  it('links memberships to users and organizations already in the store', async () => {
    await importer.import(SEED);
    await importer.import({ users: [{ email: 'carol@example.com' }], memberships: [{ user: 'carol@example.com', org: 'o_acme', role: 'editor' }] });
    const carol = await stores.users.findByEmail('carol@example.com');
    expect((await stores.memberships.find(carol!.id, 'o_acme'))?.role).toBe('editor');
  });

  it.each([
    [{ users: [{ email: 'not-an-email' }] }, 'users[0].email', /users\[0\]\.email: must be a valid email address/],
    [{ users: [{ email: 'a@example.com' }, { email: 'b@example.com', password: 'short' }] }, 'users[1].password', /users\[1\]\.password: must be at least 8/],
    [{ users: [{ email: 'a@example.com', admin: true }] }, 'users[0]', /users\[0\]: unknown field "admin"/],
    [{ users: [{ email: { $ne: null } }] }, 'users[0].email', /users\[0\]\.email/],
    [{ users: [{ email: 'a@example.com' }, { email: 'A@EXAMPLE.COM' }] }, 'users[1].email', /users\[1\]\.email: duplicates users\[0\]/],
    [{ users: [{ id: 'bad id!', email: 'a@example.com' }] }, 'users[0].id', /users\[0\]\.id/],
    [{ organizations: [{ id: 'o1', name: '' }] }, 'organizations[0].name', /organizations\[0\]\.name: must not be empty/],
    [{ organizations: [{ id: 'o1', name: 'A' }, { id: 'o1', name: 'B' }] }, 'organizations[1].id', /duplicates organizations\[0\]/],
    [{ memberships: [{ user: 'u_nobody', org: 'o1', role: 'owner' }] }, 'memberships[0].user', /memberships\[0\]\.user: no user "u_nobody"/],
    [{ users: [{ id: 'u1', email: 'a@example.com' }], memberships: [{ user: 'u1', org: 'o_none', role: 'owner' }] }, 'memberships[0].org', /no organization "o_none"/],
    [{ users: [{ id: 'u1', email: 'a@example.com' }], organizations: [{ id: 'o1', name: 'A' }], memberships: [{ user: 'u1', org: 'o1', role: 'king' }] }, 'memberships[0].role', /must be one of owner, admin, editor, viewer/],
    [{ clients: [{ client_id: 'zapier', client_secret: 'short', name: 'Zapier' }] }, 'clients[0].client_secret', /at least 32 characters/],
    [{ clients: [{ client_id: 'zapier', client_secret: 's'.repeat(40), name: 'Zapier', redirect_uris: ['http://zapier.com/cb'] }] }, 'clients[0].redirect_uris[0]', /must use https/],
    [{ clients: [{ client_id: 'zapier', client_secret: 's'.repeat(40), name: 'Zapier', redirect_uris: ['https://zapier.com/cb#x'] }] }, 'clients[0].redirect_uris[0]', /fragment/],
    [{ clients: [{ client_id: 'zapier', client_secret: 's'.repeat(40), name: 'Zapier' }] }, 'clients[0].redirect_uris', /needs at least one redirect URI/],
    [{ clients: [{ client_id: 'zapier', client_secret: 's'.repeat(40), name: 'Zapier', redirect_uris: ['https://z/cb'], scopes: ['nope:read'] }] }, 'clients[0].scopes', /unknown scope nope:read/],
    [{ extra: [] }, '(file)', /unknown field "extra"/],
  ])('refuses %j naming %s', async (input, field, message) => {
    const error = await refusal(input);
    expect(error.field).toBe(field);
    expect(error.message).toMatch(message);
  });

  it('loads nothing from an invalid file, even when its first entries are valid', async () => {
    const input = {
      users: [{ id: 'u_ok', email: 'ok@example.com', password: recordSecret('ok-password-123') }],
      organizations: [{ id: 'o_ok', name: 'Fine' }],
      memberships: [{ user: 'u_ok', org: 'o_ok', role: 'owner' }, { user: 'u_ok', org: 'o_missing', role: 'owner' }],
    };
    await refusal(input);
    expect(await stores.users.findById('u_ok')).toBeNull();
    expect(await stores.organizations.findById('o_ok')).toBeNull();
    expect(await stores.memberships.listForUser('u_ok')).toEqual([]);
  });

  it('refuses an email that belongs to another stored user', async () => {
    await importer.import(SEED);
    const error = await refusal({ users: [{ id: 'u_other', email: 'alice@example.com' }] });
    expect(error.message).toMatch(/users\[0\]\.email: already belongs to another user \(u_alice\)/);
    expect(await stores.users.findById('u_other')).toBeNull();
  });

  it('refuses display names that hide or disguise text, naming the entry and field', async () => {
    expect((await refusal({ organizations: [{ id: 'o_x', name: 'Acme\u202Eevil' }] })).message).toMatch(/^organizations\[0\]\.name: must not contain .*U\+202E/);
    expect((await refusal({ users: [{ email: 'z@example.com', name: 'Zero\u200Bwidth' }] })).message).toMatch(/^users\[0\]\.name: /);
    expect((await refusal({ clients: [{ client_id: 'zap', client_secret: 's'.repeat(40), name: 'Zap\u0000ier' }] })).message).toMatch(/^clients\[0\]\.name: /);
    expect(await stores.organizations.findById('o_x')).toBeNull();
  });

  it('refuses an organization on a plan the deployment does not have, naming both', async () => {
    const error = await refusal({ organizations: [{ id: 'o_x', name: 'X', plan: 'enterprise' }] });
    expect(error.message).toBe(`organizations[0].plan: "enterprise" is not one of this deployment's plans (free, lite, premium, academic, team)`);
    expect(await stores.organizations.findById('o_x')).toBeNull();
  });

  it('refuses non-objects', async () => {
    expect((await refusal([])).message).toMatch(/seed file/);
    expect((await refusal(null)).message).toMatch(/seed file/);
  });

  describe('api_keys', () => {
    const MINDS_KEY = recordSecret('minds_10e9d89a4f88331be68ce05736271bcc58409a26b03a412b');
    const HASHED_ONLY = recordSecret('fe_k_0123456789abcdef0123456789abcdef');

    it('imports keys of any format, by plaintext or by SHA-256, and they authenticate', async () => {
      const summary = await importer.import({
        ...SEED,
        api_keys: [
          { id: 'key_minds', key: MINDS_KEY, user: 'u_alice', org: 'o_acme', name: 'prod', scopes: ['leads:read'] },
          { key_sha256: hashKey(HASHED_ONLY).toUpperCase(), user: 'bob@example.com', org: 'o_acme', expires_at: '2030-01-01T00:00:00Z' },
        ],
      });
      expect(summary.api_keys).toEqual({ created: 2, updated: 0, unchanged: 0 });
      const minds = await resolver.resolve(MINDS_KEY);
      expect(minds).toMatchObject({ status: 'active', principal: { userId: 'u_alice', orgId: 'o_acme', keyId: 'key_minds', scopes: ['leads:read'] } });
      const stored = await stores.apiKeys.findById('key_minds');
      expect(stored).toMatchObject({ name: 'prod', start: 'minds_10', env: 'live', hash: hashKey(MINDS_KEY) });
      expect(JSON.stringify(stored)).not.toContain(MINDS_KEY);
      const hashed = await resolver.resolve(HASHED_ONLY);
      expect(hashed).toMatchObject({ status: 'active', principal: { scopes: ['apps:read', 'billing:read', 'keys:read', 'leads:read'] } }); // a viewer's scopes by default
      expect(await stores.apiKeys.findByHash(hashKey(HASHED_ONLY))).toMatchObject({ start: null, expiresAt: new Date('2030-01-01T00:00:00Z') });
    });

    it('is idempotent for keys too, and never revives a revoked one', async () => {
      const file = { ...SEED, api_keys: [{ id: 'key_minds', key: MINDS_KEY, user: 'u_alice', org: 'o_acme' }] };
      await importer.import(file);
      expect((await importer.import(file)).api_keys).toEqual({ created: 0, updated: 0, unchanged: 1 });
      await stores.apiKeys.update('key_minds', { revokedAt: new Date(), active: false });
      await importer.import({ ...file, api_keys: [{ ...file.api_keys[0]!, name: 'renamed' }] });
      expect(await resolver.resolve(MINDS_KEY)).toEqual({ status: 'inactive', reason: 'revoked', orgId: 'o_acme', kind: 'api_key' });
    });

    it.each([
      [{ key: MINDS_KEY, key_sha256: hashKey(MINDS_KEY), user: 'u_alice', org: 'o_acme' }, 'api_keys[0].key', /exactly one of key and key_sha256/],
      [{ user: 'u_alice', org: 'o_acme' }, 'api_keys[0].key', /exactly one of key and key_sha256/],
      [{ key: MINDS_KEY, user: 'u_nobody', org: 'o_acme' }, 'api_keys[0].user', /no user "u_nobody"/],
      [{ key: MINDS_KEY, user: 'bob@example.com', org: 'o_acme', scopes: ['leads:write'] }, 'api_keys[0].scopes', /beyond what the viewer role allows: leads:write/],
      [{ key: MINDS_KEY, user: 'u_alice', org: 'o_acme', scopes: ['payroll:read'] }, 'api_keys[0].scopes', /unknown scope payroll:read/],
      [{ key_sha256: 'abc', user: 'u_alice', org: 'o_acme' }, 'api_keys[0].key_sha256', /64 hex/],
      [{ key: 'has space', user: 'u_alice', org: 'o_acme' }, 'api_keys[0].key', /printable ASCII/],
    ])('refuses %j naming %s', async (entry, field, message) => {
      const error = await refusal({ ...SEED, api_keys: [entry] });
      expect(error.field).toBe(field);
      expect(error.message).toMatch(message);
      expect(await stores.users.findById('u_alice')).toBeNull(); // nothing from the file was loaded
    });

    it('refuses a key of a user who is not a member of the organization', async () => {
      const error = await refusal({ ...SEED, organizations: [...SEED.organizations, { id: 'o_other', name: 'Other' }], api_keys: [{ key: MINDS_KEY, user: 'u_alice', org: 'o_other' }] });
      expect(error.message).toMatch(/api_keys\[0\]\.user: not a member of organization "o_other"/);
    });

    it('refuses the same key twice in one file', async () => {
      const error = await refusal({ ...SEED, api_keys: [{ key: MINDS_KEY, user: 'u_alice', org: 'o_acme' }, { key_sha256: hashKey(MINDS_KEY), user: 'u_alice', org: 'o_acme' }] });
      expect(error.message).toMatch(/api_keys\[1\]\.key: the same key as api_keys\[0\]/);
    });
  });
});

describe('SeedImporter: clients', () => {
  const ZAPIER = {
    client_id: 'zapier',
    client_secret: recordSecret('zapier-secret-0123456789abcdefghijklmnop'),
    name: 'Zapier',
    redirect_uris: ['https://zapier.com/dashboard/auth/oauth/return/App123CLIAPI/'],
    scopes: ['leads:read', 'keys:read'],
  };

  it('registers clients with a hashed secret, idempotently', async () => {
    expect((await importer.import({ clients: [ZAPIER, { client_id: 'crm-api', client_secret: recordSecret('resource-server-secret-0123456789abcd'), name: 'CRM API', type: 'resource_server' }] })).clients).toEqual({
      created: 2,
      updated: 0,
      unchanged: 0,
    });
    const stored = await stores.clients.findById('zapier');
    expect(stored).toMatchObject({ name: 'Zapier', type: 'connector', redirectUris: ZAPIER.redirect_uris, scopes: ['keys:read', 'leads:read'], disabled: false, secretHash: hashKey(ZAPIER.client_secret) });
    expect(JSON.stringify(stored)).not.toContain(ZAPIER.client_secret);
    expect(await stores.clients.findById('crm-api')).toMatchObject({ type: 'resource_server', redirectUris: [] });
    expect((await importer.import({ clients: [ZAPIER] })).clients).toEqual({ created: 0, updated: 0, unchanged: 1 });
    expect((await importer.import({ clients: [{ ...ZAPIER, disabled: true }] })).clients).toEqual({ created: 0, updated: 1, unchanged: 0 });
    expect((await stores.clients.findById('zapier'))?.disabled).toBe(true);
  });
});

describe('SeedImporter: telling running instances', () => {
  it('publishes user, organization and key events for changes that affect bearers', async () => {
    await importer.import(SEED);
    const heard: BearerEvent[] = [];
    await new BearerEvents(stores.ephemeral, () => undefined).subscribe((e) => heard.push(e!));
    const changed = structuredClone(SEED) as typeof SEED & { users: Array<Record<string, unknown>>; organizations: Array<Record<string, unknown>> };
    changed.users[1]!.disabled = true;
    changed.organizations[0]!.disabled = true;
    changed.memberships[1]!.role = 'editor';
    await importer.import(changed);
    await new Promise((resolve) => setImmediate(resolve)); // delivered as Redis would: asynchronously
    const bob = await stores.users.findByEmail('bob@example.com');
    expect(heard).toEqual(expect.arrayContaining([{ kind: 'user', id: bob!.id }, { kind: 'organization', id: 'o_acme' }]));
    expect(heard.filter((e) => e.kind === 'user')).toHaveLength(2); // disabled, and a new role
  });
});
