/**
 * The example leads API (examples/resource-server.ts) as a process, its output captured like
 * Tessera's, and calls to it with a bearer recorded for the log scan.
 */
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
