/**
 * A fake Tessera for the kit's unit tests, on node:http on a free port, counting the calls it
 * gets: POST /oauth/introspect and POST /v1/verify check the resource server's Basic credentials
 * as Tessera does (401 invalid_client otherwise) and answer each token from a table — the
 * principal of an active bearer or `{"active":false}`; a verify answer given by the test or
 * NOT_FOUND — or a canned failure. GET /.well-known/tessera-profile publishes a profile (Tessera's
 * own unless the test sets another), or its own canned failure.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { publicProfile, type Profile, type PublicProfile } from '../../../src/domain/profile.ts';
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
  /** The verify answer for a token (the JSON body of POST /v1/verify); others are NOT_FOUND. */
  verdict(token: string, answer: Record<string, unknown>): void;
  /** The profile GET /.well-known/tessera-profile publishes. */
  publish(profile: PublicProfile): void;
  /** Every answer of the profile document is this one, until cleared with null. */
  overrideProfile(reply: CannedReply | null): void;
  /** GET /.well-known/tessera-profile requests received. */
  profileRequests(): number;
  close(): Promise<void>;
}

export const ISSUER = 'http://tessera.test';

/** The public part of a profile of config/profiles/ (`tessera`, `minds`, `flowestate`…). */
export function shippedProfile(name: string): PublicProfile {
  return publicProfile(JSON.parse(readFileSync(new URL(`../../../config/profiles/${name}.json`, import.meta.url), 'utf8')) as Profile);
}

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
  const verdicts = new Map<string, Record<string, unknown>>();
  let published = shippedProfile('tessera');
  let profileOverride: CannedReply | null = null;
  let profileRequests = 0;
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
      if (req.method === 'GET' && req.url === '/.well-known/tessera-profile') {
        profileRequests++;
        return send(res, profileOverride ?? { status: 200, body: JSON.stringify(published) });
      }
      requests.push({ method: req.method ?? '', path: req.url ?? '', contentType: req.headers['content-type'], authorization: req.headers.authorization });
      if (req.method !== 'POST' || (req.url !== '/oauth/introspect' && req.url !== '/v1/verify')) return send(res, { status: 404, body: '{}' });
      if (req.headers.authorization !== expected) {
        return send(res, { status: 401, body: JSON.stringify({ error: 'invalid_client', error_description: 'client authentication failed' }), headers: { 'www-authenticate': 'Basic realm="tessera"' } });
      }
      const token = req.url === '/v1/verify' ? String((JSON.parse(body) as { token?: unknown }).token ?? '') : (new URLSearchParams(body).get('token') ?? '');
      calls.push(token);
      if (override) return send(res, override);
      if (req.url === '/v1/verify') return send(res, { status: 200, body: JSON.stringify(verdicts.get(token) ?? { valid: false, code: 'NOT_FOUND', reason: 'unknown' }) });
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
    verdict: (token, answer) => verdicts.set(token, answer),
    publish: (profile) => {
      published = profile;
    },
    overrideProfile: (reply) => {
      profileOverride = reply;
    },
    profileRequests: () => profileRequests,
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
