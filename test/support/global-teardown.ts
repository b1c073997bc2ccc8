import { stopSharedServers } from './servers.ts';

export default async function globalTeardown(): Promise<void> {
  await stopSharedServers();
}
