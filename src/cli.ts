/**
 * Operator commands against the configured stores (MONGODB_URI / REDIS_URL; in the embedded mode
 * they refuse, since the server's memory is out of their reach), and a demo connector:
 *   tessera import <file.json>
 *   tessera keys create --user <id|email> --org <id> [--scopes "a b"] [--name n] [--env live|test] [--expires-at ISO]
 *   tessera clients create --name <name> --redirect-uri <uri> … --scopes "a b" [--type connector|resource_server]
 *   tessera jwks generate
 *   tessera demo --client-secret <secret> [--url …]
 */
import { parseArgs } from 'node:util';
import { createServices, openStores } from './app.ts';
import { generateSigningKey, loadConfig, type Config } from './config/index.ts';
import { KEY_ENVS, type KeyEnv } from './domain/api-key-format.ts';
import { CLIENT_TYPES, type ClientType } from './domain/oauth.ts';
import { parseScopeString } from './domain/scopes.ts';
import type { Stores } from './ports.ts';
import { readJsonFile } from './read-json-file.ts';
import { operatorActor } from './services/accounts/operator-actor.ts';
import { DEMO_CONNECTOR_ID, DEMO_REDIRECT_URI } from './services/demo/demo-seed.ts';
import { playConnector } from './demo-connector.ts';

const USAGE = `usage: npm run tessera -- <command>

commands:
  import <file.json>
      load users, organizations, memberships and API keys from a seed file (idempotent)
  keys create --user <id|email> --org <org id> [--scopes "a b"] [--name <name>] [--env live|test] [--expires-at <ISO time>]
      make an API key for a member of an organization and print it once (e.g. the first key
      of a fresh deployment); scopes default to everything the member's role allows
  clients create --name <name> --redirect-uri <uri> [--redirect-uri <uri> …] --scopes "a b" [--type connector|resource_server] [--id <client id>]
      register an OAuth client (a connector such as Zapier, or a resource server that may
      introspect) and print its client_id and client_secret once
  balance credit --org <org id> --credits <n>
      add credits to an organization's balance (what every request's cost draws on when
      TESSERA_CREDIT_BALANCES is on) and print the balance
  jwks generate
      print a new private JWKS (one ES256 key) for TESSERA_OAUTH_JWKS; every replica needs the same
  demo --client-secret <secret> [--url <Tessera's URL>] [--client-id demo-connector] [--redirect-uri <uri>]
      play a connector against a running Tessera (the embedded demo's, by default): print the
      URL to open in a browser, wait on the redirect URI for the code, exchange it and print the
      principal the access token resolves to. The commands above need MONGODB_URI and REDIS_URL;
      this one needs only a running server.`;

class UsageError extends Error {}

class EmbeddedError extends Error {
  constructor() {
    super(
      'no store of record is configured (MONGODB_URI and REDIS_URL): the embedded server keeps its data in its own memory, out of reach of this command. Set both as the server has them, or use the running server: its API with the demo key, and `npm run tessera -- demo` for a connector',
    );
  }
}

/**
 * The configuration of a command that changes the stores of record. The embedded server's stores
 * live in its own memory: a command here would change a copy of its own that vanishes on exit,
 * and the server would never see it — so it refuses.
 */
function storesConfig(): Config {
  const config = loadConfig();
  if (config.storeMode === 'embedded') throw new EmbeddedError();
  return config;
}

async function withStores<T>(config: Config, work: (stores: Stores) => Promise<T>): Promise<T> {
  const stores = await openStores(config);
  try {
    return await work(stores);
  } finally {
    await stores.close();
  }
}

async function importCommand(args: string[]): Promise<number> {
  if (args.length !== 1) throw new UsageError('import takes exactly one file: npm run tessera -- import <file.json>');
  const config = storesConfig();
  const input = await readJsonFile(args[0]!);
  const summary = await withStores(config, (stores) => createServices(stores, config).seedImporter.import(input));
  for (const [section, counts] of Object.entries(summary)) {
    console.log(`${section}: ${counts.created} created, ${counts.updated} updated, ${counts.unchanged} unchanged`);
  }
  return 0;
}

async function keysCreateCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      user: { type: 'string' },
      org: { type: 'string' },
      scopes: { type: 'string' },
      name: { type: 'string' },
      env: { type: 'string' },
      'expires-at': { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (!values.user || !values.org) throw new UsageError('keys create needs --user and --org');
  if (values.env !== undefined && !(KEY_ENVS as readonly string[]).includes(values.env)) throw new UsageError('--env must be live or test');
  const expiresAt = values['expires-at'] === undefined ? null : new Date(values['expires-at']);
  if (expiresAt !== null && Number.isNaN(expiresAt.getTime())) throw new UsageError('--expires-at must be an ISO 8601 time');
  const config = storesConfig();
  const issued = await withStores(config, async (stores) => {
    const services = createServices(stores, config);
    const actor = await operatorActor(stores, services.catalog, values.user!, values.org!);
    return services.apiKeys.create(actor, {
      name: values.name ?? null,
      ...(values.scopes !== undefined ? { scopes: parseScopeString(values.scopes.replaceAll(',', ' ')) } : {}),
      env: (values.env as KeyEnv | undefined) ?? 'live',
      expiresAt,
    });
  });
  // The key alone on stdout (so scripts can capture it); what it is, on stderr.
  console.log(issued.secret);
  console.error(`tessera: created ${issued.record.id} (${issued.record.env}) for ${issued.record.userId} in ${issued.record.orgId}, scopes: ${issued.record.scopes.join(' ') || '(none)'}`);
  console.error('tessera: this key is shown once; store it now');
  return 0;
}

async function clientsCreateCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      name: { type: 'string' },
      'redirect-uri': { type: 'string', multiple: true },
      scopes: { type: 'string' },
      type: { type: 'string' },
      id: { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (!values.name) throw new UsageError('clients create needs --name');
  const type = values.type ?? 'connector';
  if (!(CLIENT_TYPES as readonly string[]).includes(type)) throw new UsageError('--type must be connector or resource_server');
  const config = storesConfig();
  const issued = await withStores(config, (stores) =>
    createServices(stores, config).clients.create({
      name: values.name!,
      type: type as ClientType,
      redirectUris: values['redirect-uri'] ?? [],
      scopes: values.scopes === undefined ? [] : parseScopeString(values.scopes.replaceAll(',', ' ')),
      ...(values.id !== undefined ? { id: values.id } : {}),
    }),
  );
  console.log(`client_id=${issued.client.id}`);
  console.log(`client_secret=${issued.secret}`);
  console.error(`tessera: registered ${issued.client.type} "${issued.client.name}"; the secret is shown once: store it now`);
  return 0;
}

async function balanceCreditCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { org: { type: 'string' }, credits: { type: 'string' } }, strict: true, allowPositionals: false });
  if (!values.org || values.credits === undefined) throw new UsageError('balance credit needs --org and --credits');
  if (!/^\d+$/.test(values.credits)) throw new UsageError('--credits must be a whole number of credits');
  const config = storesConfig();
  const view = await withStores(config, (stores) => createServices(stores, config).balances.creditByOperator(values.org!, Number(values.credits)));
  console.log(JSON.stringify({ org_id: view.orgId, credited: view.credited, spent: view.spent, available: view.available }));
  return 0;
}

async function demoCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      url: { type: 'string' },
      'client-id': { type: 'string', default: DEMO_CONNECTOR_ID },
      'client-secret': { type: 'string' },
      'redirect-uri': { type: 'string', default: DEMO_REDIRECT_URI },
      scope: { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (!values['client-secret']) throw new UsageError('demo needs --client-secret (the connector secret npm start printed)');
  const result = await playConnector({
    baseUrl: values.url ?? loadConfig().baseUrl,
    client: { id: values['client-id'], secret: values['client-secret'], redirectUri: values['redirect-uri'] },
    ...(values.scope !== undefined ? { scope: values.scope } : {}),
    say: (line) => console.error(line),
  });
  // The token response and the principal on stdout (scripts can read them); the story on stderr.
  console.log(JSON.stringify({ token: result.token, me: result.me }, null, 2));
  return 0;
}

async function run(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (command === undefined || command === 'help' || command === '--help') {
    console.log(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command === 'import') return importCommand(args);
  if (command === 'keys' && args[0] === 'create') return keysCreateCommand(args.slice(1));
  if (command === 'clients' && args[0] === 'create') return clientsCreateCommand(args.slice(1));
  if (command === 'balance' && args[0] === 'credit') return balanceCreditCommand(args.slice(1));
  if (command === 'demo') return demoCommand(args);
  if (command === 'jwks' && args[0] === 'generate' && args.length === 1) {
    console.log(JSON.stringify({ keys: [generateSigningKey()] }));
    return 0;
  }
  throw new UsageError(`unknown command "${argv.join(' ')}"`);
}

try {
  process.exitCode = await run(process.argv.slice(2));
} catch (error) {
  if (error instanceof EmbeddedError) {
    console.error(`tessera: ${error.message}`);
    process.exitCode = 1;
  } else if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    console.error(`tessera: ${(error as Error).message}\n\n${USAGE}`);
    process.exitCode = 2;
  } else {
    console.error(`tessera: ${error instanceof Error ? error.message : 'failed'}`);
    process.exitCode = 1;
  }
}
