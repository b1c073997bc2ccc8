/**
 * A fake Tessera for the kit's unit tests: POST /oauth/introspect on node:http, on a free port,
 * counting the calls it gets. It checks the resource server's Basic credentials as Tessera does
 * (401 invalid_client otherwise) and answers each token from a table: the principal of an active
 * bearer, `{"active":false}` for any other, or a canned failure.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { recordSecret } from '../../support/log-capture.ts';

export interface CannedReply {
  status: number;
  body: string;
  headers?: Record<string, string>;
  /** Milliseconds to wait before answering (or 'never'). */
  delayMs?: number | 'never';
}

export interface FakeTessera {
  url: string;
  clientId: string;
  clientSecret: string;
  /** Tokens Tessera was asked about, in order. */
  calls: string[];
  /** Raw requests' content types and Authorization headers, for protocol assertions. */
  requests: Array<{ method: string; path: string; contentType: string | undefined; authorization: string | undefined }>;
  /** Active answers by token (without `active`, `iss`, `token_type`, which are filled in). */
  activate(token: string, fields: Record<string, unknown>): void;
  deactivate(token: string): void;
  /** Every answer from now on is this one (a 503, a delay), until cleared with null. */
  override(reply: CannedReply | null): void;
  close(): Promise<void>;
}

export const ISSUER = 'http://tessera.test';

export function newToken(prefix = 'tsr_live_'): string {
  return recordSecret(`${prefix}${randomBytes(24).toString('base64url')}`);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (data += chunk));
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });
}

export async function startFakeTessera(): Promise<FakeTessera> {
  const clientId = 'leads_api';
  const clientSecret = recordSecret(`rs_${randomBytes(24).toString('base64url')}`);
  const expected = recordSecret(`Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`);
  const answers = new Map<string, Record<string, unknown>>();
  const calls: string[] = [];
  const requests: FakeTessera['requests'] = [];
  let override: CannedReply | null = null;
  const pending = new Set<ServerResponse>();

  const send = (res: ServerResponse, reply: CannedReply): void => {
    const write = (): void => {
      pending.delete(res);
      if (res.destroyed) return;
      res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
      res.end(reply.body);
    };
    if (reply.delayMs === 'never') {
      pending.add(res);
      return;
    }
    if (reply.delayMs) {
      pending.add(res);
      setTimeout(write, reply.delayMs);
    } else write();
  };

  const server: Server = createServer((req, res) => {
    void readBody(req).then((body) => {
      requests.push({ method: req.method ?? '', path: req.url ?? '', contentType: req.headers['content-type'], authorization: req.headers.authorization });
      if (req.method !== 'POST' || req.url !== '/oauth/introspect') return send(res, { status: 404, body: '{}' });
      if (req.headers.authorization !== expected) {
        return send(res, { status: 401, body: JSON.stringify({ error: 'invalid_client', error_description: 'client authentication failed' }), headers: { 'www-authenticate': 'Basic realm="tessera"' } });
      }
      const token = new URLSearchParams(body).get('token') ?? '';
      calls.push(token);
      if (override) return send(res, override);
      const fields = answers.get(token);
      send(res, { status: 200, body: fields ? JSON.stringify({ active: true, ...fields, iss: ISSUER, token_type: 'Bearer' }) : '{"active":false}' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    clientId,
    clientSecret,
    calls,
    requests,
    activate: (token, fields) => answers.set(token, fields),
    deactivate: (token) => answers.delete(token),
    override: (reply) => {
      override = reply;
    },
    close: async () => {
      for (const res of pending) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** An API key's introspection fields (Tessera's shape). */
export function apiKeyFields(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { kind: 'api_key', sub: 'u_1', org_id: 'o_acme', scope: 'leads:read', key_id: 'k_1', env: 'live', iat: 1_700_000_000, ...overrides };
}

/** An OAuth access token's introspection fields. */
export function oauthFields(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { kind: 'oauth', sub: 'u_1', org_id: 'o_globex', scope: 'leads:read leads:write', client_id: 'zapier', grant_id: 'g_1', iat: 1_700_000_000, exp: 4_000_000_000, ...overrides };
}

/** A closed port on loopback: connections to it are refused. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
