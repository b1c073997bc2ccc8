/**
 * Conformance suites (test/integration/conformance/): one per product document in
 * ../shared/seeds/, each running Tessera with that product's profile (config/profiles/) and
 * checking every concrete statement of the document, each test named by the words it checks.
 * A statement about the product's own API is checked through the resource-server kit, mounted
 * on a small product API here (`productApi`). A statement outside an identity service's job is
 * listed as out of scope with one line why; the suite ends with its counts, which must be the
 * ones the README's conformance table shows, and writes both lists to
 * test-logs/conformance/<product>.md.
 *
 *   const doc = conformance('FlowMind');
 *   doc.statement('Every request must include your API key in the Authorization header', async () => { … });
 *   doc.outOfScope('Use API keys in client-side JavaScript', 'advice to the product's users; nothing to serve');
 *   doc.ends();
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { expect, it } from '@jest/globals';
import Koa from 'koa';
import Router from '@koa/router';
import { createVerifier, requireBearer, type Verifier } from '../../kit/index.ts';
import type { ApiHarness } from './api-harness.ts';
import { recordSecret, testLogDir } from './log-capture.ts';

const ROOT = resolve(import.meta.dirname, '../..');

export interface Conformance {
  /** One concrete statement of the document, quoted (a few words), and the test that checks it. */
  statement(quote: string, check: () => Promise<void>, timeoutMs?: number): void;
  /** A statement outside an identity service's job, and one line why. */
  outOfScope(quote: string, why: string): void;
  /** The suite's last test: its counts are the README table's row for the product. */
  ends(): void;
}

/** The README's conformance table: `| Product | checked | out of scope |` rows. */
function readmeRow(product: string): { checked: number; outOfScope: number } | null {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const row = new RegExp(`^\\| ${product} \\| (\\d+) \\| (\\d+) \\|`, 'm').exec(readme);
  return row ? { checked: Number(row[1]), outOfScope: Number(row[2]) } : null;
}

export function conformance(product: string): Conformance {
  const checked: string[] = [];
  const outside: Array<{ quote: string; why: string }> = [];
  return {
    statement(quote, check, timeoutMs) {
      if (checked.includes(quote)) throw new Error(`statement quoted twice: ${quote}`);
      checked.push(quote);
      it(`“${quote}”`, check, timeoutMs);
    },
    outOfScope(quote, why) {
      outside.push({ quote, why });
    },
    ends() {
      it(`ends with the counts the README shows: statements checked and out of scope`, () => {
        // The run's list, for a reader of the logs: what was checked and what was not, and why.
        const report = [
          `# ${product}: ${checked.length} statements checked, ${outside.length} out of scope`,
          '',
          ...checked.map((q) => `- checked: “${q}”`),
          ...outside.map((o) => `- out of scope: “${o.quote}” — ${o.why}`),
        ].join('\n');
        // Beside the logs, not among them: the report quotes the document, whose example keys a
        // test presents (and so records as secrets for the leak scan of the logs).
        const dir = join(testLogDir(), 'conformance');
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, `${product.toLowerCase()}.md`), `${report}\n`);
        expect({ product, row: readmeRow(product) }).toEqual({ product, row: { checked: checked.length, outOfScope: outside.length } });
      });
    },
  };
}

export interface ProductApi {
  url: string;
  verifier: Verifier;
  close(): Promise<void>;
}

/**
 * The product's own API: a Koa app whose routes the kit guards with a verifier registered in
 * Tessera as a resource server, learning the profile from Tessera's /.well-known/tessera-profile.
 * `routes` gets the router and the guard (`guard(['goals:read'], cost)`).
 */
export async function productApi(
  h: ApiHarness,
  routes: (router: Router, guard: (scopes?: string[], cost?: number) => Koa.Middleware) => void,
): Promise<ProductApi> {
  const issued = await h.tessera.services.clients.create({ name: 'Product API', type: 'resource_server' });
  const verifier = createVerifier({ url: h.url, clientId: issued.client.id, clientSecret: recordSecret(issued.secret) });
  const router = new Router();
  routes(router, (scopes = [], cost = 0) => requireBearer(verifier, { scopes, ...(cost > 0 ? { cost } : {}) }));
  const app = new Koa();
  app.use(router.routes());
  const server: Server = createServer(app.callback());
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    verifier,
    close: () => new Promise<void>((done) => server.close(() => done())),
  };
}

/** A request to any URL with a bearer (or a raw Authorization header): status, headers and JSON body. */
export async function call(url: string, options: { key?: string; authorization?: string; method?: string; body?: unknown } = {}): Promise<{ status: number; headers: Headers; body: unknown }> {
  const authorization = options.authorization ?? (options.key === undefined ? undefined : `Bearer ${options.key}`);
  const res = await fetch(url, {
    method: options.method ?? 'GET',
    headers: { ...(authorization === undefined ? {} : { authorization: recordSecret(authorization) }), ...(options.body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === '' ? undefined : JSON.parse(text) };
}
