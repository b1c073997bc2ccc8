/**
 * The example leads API (examples/resource-server.ts) as a process, its output captured like
 * Tessera's, and calls to it with a bearer recorded for the log scan.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_KEY_FORMAT, generateKey } from '../../src/domain/api-key-format.ts';
import { spawnTessera } from './tessera-process.ts';
import { recordSecret } from './log-capture.ts';

export interface ExampleProcess {
  url: string;
  output(): string;
  stop(): Promise<void>;
}

export interface Reply {
  status: number;
  text: string;
  headers: Headers;
  json(): Record<string, unknown>;
}

export async function call(base: string, method: string, path: string, bearer?: string, body?: unknown): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (bearer !== undefined) headers.authorization = recordSecret(`Bearer ${recordSecret(bearer)}`);
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await res.text();
  return { status: res.status, text, headers: res.headers, json: () => JSON.parse(text) as Record<string, unknown> };
}

export async function startExample(env: Record<string, string>, label = 'kit-example'): Promise<ExampleProcess> {
  // Port 0: the example picks a free port and prints it.
  const { child, output, exited } = spawnTessera('examples/resource-server.ts', [], env, 0, label);
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code));
  const deadline = Date.now() + 20_000;
  let url: string | undefined;
  while (url === undefined) {
    if (exitCode !== undefined) throw new Error(`the example exited with ${exitCode}:\n${output()}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the example did not print its port within 20 s:\n${output()}`);
    }
    url = /listening on (http:\/\/\S+)/.exec(output())?.[1];
    if (url === undefined) await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    output,
    stop: async () => {
      if (exitCode === undefined) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** The parties of a kit end-to-end test: a user with a password, a connector and a resource server, each with a fresh secret (recorded for the log scan). */
export function kitParties(label: string): {
  dir: string;
  tag: string;
  user: { id: string; email: string; password: string };
  connector: { id: string; secret: string };
  resourceServer: { id: string; secret: string };
  newKey(): string;
} {
  const tag = randomBytes(4).toString('hex');
  return {
    dir: mkdtempSync(join(tmpdir(), `tessera-${label}-`)),
    tag,
    user: { id: `u_${label}_${tag}`, email: `${label}-${tag}@example.com`, password: recordSecret(`pw-${randomBytes(12).toString('base64url')}`) },
    connector: { id: `zapier_${tag}`, secret: recordSecret(`zs_${randomBytes(32).toString('base64url')}`) },
    resourceServer: { id: `leads_api_${tag}`, secret: recordSecret(`rs_${randomBytes(32).toString('base64url')}`) },
    newKey: () => recordSecret(generateKey(DEFAULT_KEY_FORMAT, 'live').key),
  };
}
