/**
 * Operator commands against the configured stores (MONGODB_URI / REDIS_URL, or memory):
 *   tessera import <file.json>   load a seed file (idempotent, all-or-nothing)
 */
import { openStores, createServices } from './app.ts';
import { ConfigError, loadConfig } from './config/index.ts';
import { isAppError } from './errors/index.ts';
import { readJsonFile } from './read-json-file.ts';

const USAGE = `usage: npm run tessera -- <command>

commands:
  import <file.json>   load users, organizations and memberships from a seed file`;

async function run(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (command === undefined || command === 'help' || command === '--help') {
    console.log(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command !== 'import') {
    console.error(`tessera: unknown command "${command}"\n\n${USAGE}`);
    return 2;
  }
  if (args.length !== 1) {
    console.error('tessera: import takes exactly one file: npm run tessera -- import <file.json>');
    return 2;
  }
  const config = loadConfig();
  if (config.storeMode === 'embedded') {
    console.error('tessera: warning: MONGODB_URI and REDIS_URL are not set; importing into memory stores that vanish when this command exits');
  }
  const input = await readJsonFile(args[0]!);
  const stores = await openStores(config);
  try {
    const summary = await createServices(stores).seedImporter.import(input);
    for (const [section, counts] of Object.entries(summary)) {
      console.log(`${section}: ${counts.created} created, ${counts.updated} updated, ${counts.unchanged} unchanged`);
    }
    return 0;
  } finally {
    await stores.close();
  }
}

try {
  process.exitCode = await run(process.argv.slice(2));
} catch (error) {
  if (error instanceof ConfigError || isAppError(error) || error instanceof Error) {
    console.error(`tessera: ${error.message}`);
  } else {
    console.error('tessera: failed');
  }
  process.exitCode = 1;
}
