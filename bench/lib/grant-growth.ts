/**
 * Copies of a real grant, in bulk, for two uses:
 *
 * - `--grants N`: N existing grants put into Tessera's stores before the token cases, so that a
 *   refresh or a code exchange can be measured against 1,000 grants and against 100,000. Their
 *   owners are spread over GROWTH_USERS users in GROWTH_ORGS organizations that exist only as ids
 *   (nothing reads them), their times moved back by up to GROWTH_AGE_S;
 * - chains for the refresh cases: new connections of the benchmark's real user, made now, whose
 *   refresh tokens start the chains (each one's first refresh is then checked over HTTP).
 *
 * A copy has what a connector's grant has once it was connected and used: the oidc-provider
 * Grant, a live refresh token, a live access token (records of the OAuth model store), its
 * connected app and, when the template has one, its last use. The template is one grant made
 * through Tessera's real pages and token endpoint, read back from the stores; a copy gets new ids
 * (bench/lib/record-clones.ts) and otherwise the template's exact shape:
 *
 * - MongoDB/FerretDB: bulk `insertMany` straight into the collections where the store keeps each
 *   record (bench/lib/oauth-layout.ts: its buckets on FerretDB), each document the template's
 *   stored document with those fields replaced (cloneGrantsInMongo);
 * - memory: through the store ports of the process that holds them (cloneGrantsInStores, run in
 *   the Tessera target), which is what those stores write.
 */
import type { ConnectedApp } from '../../src/domain/oauth.ts';
import type { Stores } from '../../src/ports.ts';
import { BulkWriter, openOAuthLayout } from './oauth-layout.ts';
import { cloneModelDoc, clonePayload, newId, shifted, type Clone, type Doc } from './record-clones.ts';

/** A real grant's ids, from the token answer that created it. */
export interface TemplateIds {
  grantId: string;
  refreshToken: string;
  accessToken: string;
}

export interface CloneRequest {
  count: number;
  /**
   * `growth`: owned by GROWTH_USERS made-up users, times moved back by up to GROWTH_AGE_S;
   * `chains`: owned by the template's user and organization, made now.
   */
  kind: 'growth' | 'chains';
}

export interface Cloned {
  written: Record<string, number>;
  /** The copies' refresh tokens (kind `chains` only). */
  refreshTokens: string[];
}

export const GROWTH_USERS = 1_000;
export const GROWTH_ORGS = 100;
/**
 * How far back a growth grant's times move: little, so that its access token (an hour) outlives a
 * whole benchmark run — an expiring one would be swept (deleted) by FerretDB's expiry sweep in the
 * middle of a measured run.
 */
export const GROWTH_AGE_S = 10 * 60;

interface Owner {
  userId: string;
  orgId: string;
}

/** Copy i: its owner, and its ids and times. */
function cloneFor(i: number, request: CloneRequest, template: Owner & { iat: number }): Clone & Owner {
  if (request.kind === 'chains') {
    return { ids: new Map(), keep: new Set([template.userId]), shiftS: Math.floor(Date.now() / 1000) - template.iat, userId: template.userId, orgId: template.orgId };
  }
  const userId = `u_growth_${i % GROWTH_USERS}`;
  return { ids: new Map([[template.userId, userId]]), shiftS: -Math.floor(Math.random() * GROWTH_AGE_S), userId, orgId: `o_growth_${i % GROWTH_ORGS}` };
}

// ---------------------------------------------------------------------------------------------
// MongoDB / FerretDB: the stored documents, copied and inserted in bulk where the store keeps them

/** Inserts copies of the template grant into the database at `mongoUri` (Tessera's own). */
export async function cloneGrantsInMongo(mongoUri: string, template: TemplateIds, request: CloneRequest): Promise<Cloned> {
  const layout = await openOAuthLayout(mongoUri);
  try {
    const db = layout.connection.db!;
    const record = async (key: string): Promise<Doc> => {
      const doc = await layout.readRecord(key);
      if (!doc) throw new Error(`the template grant has no stored record ${key.slice(0, 24)}…`);
      return doc;
    };
    const [grant, refresh, access] = [await record(`Grant:${template.grantId}`), await record(`RefreshToken:${template.refreshToken}`), await record(`AccessToken:${template.accessToken}`)];
    const app = (await db.collection<Doc>('connected_apps').findOne({ _id: template.grantId })) as Doc | null;
    if (!app) throw new Error('the template grant has no connected app');
    const usage = await layout.readUsage(template.grantId);
    const owner = { userId: String(app['userId']), orgId: String(app['orgId']), iat: (JSON.parse(grant['payload'] as string) as { iat: number }).iat };

    const writer = new BulkWriter(layout.connection);
    const refreshTokens: string[] = [];
    for (let i = 0; i < request.count; i++) {
      const clone = cloneFor(i, request, owner);
      const token = cloneModelDoc(refresh, clone);
      for (const { doc } of [cloneModelDoc(grant, clone), token, cloneModelDoc(access, clone)]) await writer.add(layout.recordsOf(doc._id), doc);
      if (request.kind === 'chains') refreshTokens.push(String(token.payload['jti']));
      const grantId = newId(clone, template.grantId);
      await writer.add('connected_apps', { ...app, _id: grantId, userId: clone.userId, orgId: clone.orgId, createdAt: shifted(app['createdAt'] as Date, clone) });
      if (usage) await writer.add(layout.usageOf(grantId), { ...usage, _id: grantId, lastUsedAt: shifted(usage['lastUsedAt'] as Date, clone) });
    }
    await writer.flush();
    return { written: writer.written, refreshTokens };
  } finally {
    await layout.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Any stores, through their ports (the memory stores: run inside the Tessera target)

/** Copies of the template grant through the store ports. */
export async function cloneGrantsInStores(stores: Stores, template: TemplateIds, request: CloneRequest): Promise<Cloned> {
  const models = [
    ['Grant', template.grantId],
    ['RefreshToken', template.refreshToken],
    ['AccessToken', template.accessToken],
  ] as const;
  const records = await Promise.all(
    models.map(async ([model, id]) => {
      const record = await stores.oauth.find(model, id);
      if (!record) throw new Error(`the template grant has no ${model} record`);
      return { model, record };
    }),
  );
  const app = await stores.connectedApps.findById(template.grantId);
  if (!app) throw new Error('the template grant has no connected app');
  const owner = { userId: app.userId, orgId: app.orgId, iat: Number(records[0]!.record.payload['iat']) };
  const cloned: Cloned = { written: { oauthRecords: 0, connectedApps: 0 }, refreshTokens: [] };
  for (let i = 0; i < request.count; i++) {
    const clone = cloneFor(i, request, owner);
    for (const { model, record } of records) {
      const payload = clonePayload(record.payload, clone);
      await stores.oauth.upsert(model, String(payload['jti']), payload, shifted(record.expiresAt, clone));
      if (model === 'RefreshToken' && request.kind === 'chains') cloned.refreshTokens.push(String(payload['jti']));
    }
    const grantId = newId(clone, template.grantId);
    const copy: ConnectedApp = { ...app, id: grantId, userId: clone.userId, orgId: clone.orgId, createdAt: shifted(app.createdAt, clone)!, lastUsedAt: null };
    await stores.connectedApps.upsert(copy);
    if (app.lastUsedAt) await stores.connectedApps.touchLastUsed(grantId, shifted(app.lastUsedAt, clone)!);
    cloned.written['oauthRecords']! += records.length;
    cloned.written['connectedApps']! += 1;
  }
  return cloned;
}
