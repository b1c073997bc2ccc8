/**
 * A small resource server protected by Tessera through the kit: a "leads" API in Koa.
 *
 *   GET  /leads               needs leads:read   the leads of the caller's organization (principal.org_id), only
 *   GET  /leads?enrich=true   needs leads:read   … with each lead's email domain; costs 2 credits (a cost per request)
 *   POST /leads               needs leads:write  adds one: {"name": "...", "email": "..."} → 201; costs 1 credit (a cost per route)
 *   GET  /health              no bearer          how bearers are checked, and the kit's counters
 *
 * Either bearer kind works — an API key or an OAuth access token of a connected app — since
 * Tessera answers both with the same principal. Every request is verified at Tessera
 * (POST /v1/verify), which counts it against the bearer's request limits and spend: the
 * X-RateLimit-* and RateLimit-Policy/RateLimit headers come back on the response. Refusals are
 * answered as the deployment's product profile says (TESSERA_PROFILE at Tessera, learned from its
 * /.well-known/tessera-profile): with Tessera's own, 401 (WWW-Authenticate: Bearer) for a missing,
 * unknown, expired, revoked or disabled key, 403 FORBIDDEN for a disabled organization or a
 * missing scope, 429 RATE_LIMITED and 402 USAGE_EXCEEDED (Retry-After), 503 when Tessera cannot be
 * asked. The API's own errors (400, 404, 415…) take the profile's body too: one shape for all.
 *
 * With KIT_MODE=introspect the example introspects instead (RFC 7662): no limits, no costs, and
 * answers cached up to 5 s, invalidated through Tessera's Redis.
 *
 * Configuration (environment):
 *   TESSERA_URL            Tessera's base URL, e.g. http://localhost:3000            (required)
 *   TESSERA_CLIENT_ID      a client of type resource_server registered in Tessera   (required)
 *   TESSERA_CLIENT_SECRET  its secret                                               (required)
 *   KIT_MODE               verify (default) or introspect
 *   REDIS_URL              introspect mode: Tessera's Redis, so that revocations take effect at
 *                          once; without it, within 1 s (the kit's short TTL)
 *   TESSERA_REDIS_PREFIX   Tessera's key prefix (default tessera:)
 *   PORT                   default 4000; 0 picks a free port (the one chosen is printed)
 *   HOST                   interface to listen on (default: all)
 *   LEADS_FILE             optional JSON file of initial leads: {"<org id>": [{"name": "...", "email": "..."}]}
 *
 * Run: node --disable-warning=ExperimentalWarning examples/resource-server.ts
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import Router from '@koa/router';
import Koa, { type Context } from 'koa';
import {
  createIntrospector,
  createVerifier,
  defaultProfile,
  errorBody,
  principalOf,
  requireBearer,
  type BearerState,
  type Introspector,
  type PublicProfile,
  type RequireBearerOptions,
  type Verifier,
} from '../kit/index.ts';

interface Lead {
  id: string;
  org_id: string;
  name: string;
  email: string | null;
  created_by: string;
  created_at: string;
}

const MAX_BODY_BYTES = 16 * 1024;
/** Credits: adding a lead, and enriching a list of them. */
const WRITE_COST = 1;
const ENRICH_COST = 2;

function say(line: string): void {
  process.stdout.write(`[leads-api] ${line}\n`);
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    process.stderr.write(`[leads-api] ${name} is required (see the top of examples/resource-server.ts)\n`);
    process.exit(2);
  }
  return value;
}

/**
 * An error of the API itself, in the profile's body: the one requireBearer judged by, else the
 * one given (Tessera's own until the kit has learned it).
 */
function fail(ctx: Context, status: number, code: string, message: string, profile?: PublicProfile): void {
  ctx.status = status;
  ctx.body = errorBody(((ctx.state as Partial<BearerState>).tesseraProfile ?? profile ?? defaultProfile()).errors, status, code, message);
}

// ---------------------------------------------------------------------------------------------
// The data: in memory, keyed by organization. A lead is only ever read through its org's list.

const leadsByOrg = new Map<string, Lead[]>();

function leadsOf(orgId: string): Lead[] {
  let leads = leadsByOrg.get(orgId);
  if (!leads) leadsByOrg.set(orgId, (leads = []));
  return leads;
}

function loadLeads(path: string): void {
  const data = JSON.parse(readFileSync(path, 'utf8')) as Record<string, Array<{ name: string; email?: string | null }>>;
  for (const [orgId, leads] of Object.entries(data)) {
    for (const lead of leads) {
      leadsOf(orgId).push({ id: randomUUID(), org_id: orgId, name: lead.name, email: lead.email ?? null, created_by: 'seed', created_at: new Date().toISOString() });
    }
  }
}

/** `{"name": 1–200 chars, "email"?: string|null}` and nothing else, or the reason it is not. */
function parseLead(body: unknown): { name: string; email: string | null } | string {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'the body must be a JSON object';
  const { name, email, ...rest } = body as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) return `unknown field: ${unknown[0]}`;
  if (typeof name !== 'string' || name.trim().length === 0 || name.trim().length > 200) return 'name must be 1–200 characters';
  if (email !== undefined && email !== null && (typeof email !== 'string' || !/^[^\s@]+@[^\s@]+$/.test(email) || email.length > 254)) return 'email must be an email address';
  return { name: name.trim(), email: typeof email === 'string' ? email : null };
}

async function readJson(ctx: Context): Promise<unknown> {
  if (!ctx.is('application/json')) {
    fail(ctx, 415, 'UNSUPPORTED_MEDIA_TYPE', 'Send application/json');
    return undefined;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      fail(ctx, 413, 'PAYLOAD_TOO_LARGE', `The body is larger than ${MAX_BODY_BYTES} bytes`);
      return undefined;
    }
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    fail(ctx, 400, 'VALIDATION_FAILED', 'The body is not valid JSON');
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Wiring

const mode = process.env.KIT_MODE ?? 'verify';
if (mode !== 'verify' && mode !== 'introspect') {
  process.stderr.write(`[leads-api] KIT_MODE must be verify or introspect, not ${mode}\n`);
  process.exit(2);
}
const tessera = { url: required('TESSERA_URL'), clientId: required('TESSERA_CLIENT_ID'), clientSecret: required('TESSERA_CLIENT_SECRET') };
const redisUrl = mode === 'introspect' ? process.env.REDIS_URL : undefined;
const verifier = mode === 'verify' ? createVerifier(tessera) : null;
const introspector =
  mode === 'introspect'
    ? createIntrospector({
        ...tessera,
        ...(redisUrl ? { redis: { url: redisUrl, prefix: process.env.TESSERA_REDIS_PREFIX ?? 'tessera:' } } : {}),
        onSubscriptionChange: (subscribed) =>
          say(subscribed ? 'bearer invalidations: subscribed through Redis (cache TTL 5 s)' : 'bearer invalidations: Redis subscription down, cache TTL 1 s until it is back'),
        onError: (() => {
          // Redis retries every second while it is down: say each distinct error once in a row.
          let last = '';
          return (error: Error) => {
            if (error.message !== last) say(`redis: ${error.message}`);
            last = error.message;
          };
        })(),
      })
    : null;
const authority: Verifier | Introspector = (verifier ?? introspector)!;
/** Costs are counted by a verifier only: introspection cannot count them. */
const costing = (cost: RequireBearerOptions['cost']): RequireBearerOptions => (verifier ? { cost } : {});
if (process.env.LEADS_FILE) loadLeads(process.env.LEADS_FILE);

const app = new Koa();
app.proxy = false;
app.silent = true;
/** The deployment's profile, for errors outside the guarded routes (Tessera's own while it cannot be learned). */
const profileNow = (): Promise<PublicProfile> => authority.profile().catch(() => defaultProfile());
app.use(async (ctx, next) => {
  try {
    await next();
    if (ctx.status === 404 && ctx.body === undefined) fail(ctx, 404, 'NOT_FOUND', 'Not found', await profileNow());
  } catch (error) {
    say(`error on ${ctx.method} ${ctx.path}: ${(error as Error).message}`);
    fail(ctx, 500, 'INTERNAL', 'Internal error', await profileNow());
  }
});

const router = new Router();
router.get('/health', (ctx) => {
  if (verifier) {
    const status = verifier.status();
    ctx.body = { status: 'ok', kit: 'verify', verifier: { requests: status.requests, kept_answers: status.entries, answered_from_kept: status.hits } };
    return;
  }
  const status = introspector!.status();
  ctx.body = {
    status: 'ok',
    kit: 'introspect',
    invalidation: status.subscribed ? 'redis' : 'short-ttl',
    cache: { ttl_ms: status.ttlMs, entries: status.entries, hits: status.hits, misses: status.misses, introspections: status.requests },
  };
});
router.get('/leads', requireBearer(authority, { scopes: ['leads:read'], ...costing((ctx) => (ctx.query.enrich === 'true' ? ENRICH_COST : 0)) }), (ctx) => {
  const leads = leadsOf(principalOf(ctx).org_id);
  ctx.body = { data: ctx.query.enrich === 'true' ? leads.map((lead) => ({ ...lead, domain: lead.email?.split('@')[1] ?? null })) : leads };
});
router.post('/leads', requireBearer(authority, { scopes: ['leads:write'], ...costing(WRITE_COST) }), async (ctx) => {
  const body = await readJson(ctx);
  if (body === undefined) return;
  const input = parseLead(body);
  if (typeof input === 'string') {
    fail(ctx, 400, 'VALIDATION_FAILED', input);
    return;
  }
  const principal = principalOf(ctx);
  const lead: Lead = { id: randomUUID(), org_id: principal.org_id, ...input, created_by: principal.sub, created_at: new Date().toISOString() };
  leadsOf(principal.org_id).push(lead);
  ctx.status = 201;
  ctx.body = lead;
});
app.use(router.routes());
app.use(router.allowedMethods());

if (verifier) say('verifying every request at Tessera: request limits, spend and revocations take effect at once');
if (introspector && redisUrl && !(await introspector.waitForSubscription(3_000))) {
  say('Redis not reachable yet: serving with the 1 s cache TTL, retrying in the background');
}
if (introspector && !redisUrl) say('no REDIS_URL: revocations take effect here within 1 s (the cache TTL without invalidations)');

const server = app.listen(Number(process.env.PORT ?? 4000), process.env.HOST);
await new Promise<void>((resolve, reject) => {
  server.once('listening', resolve);
  server.once('error', reject);
});
const { port } = server.address() as AddressInfo;
say(`listening on http://${process.env.HOST ?? 'localhost'}:${port} (port ${port})`);

let stopping = false;
function stop(signal: string): void {
  if (stopping) return;
  stopping = true;
  say(`${signal}: stopping`);
  server.close(() => {
    void (introspector?.close() ?? Promise.resolve()).then(() => process.exit(0));
  });
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 5_000).unref();
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
