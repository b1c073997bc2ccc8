/**
 * Authorization codes for (x), many and fast: a code made through Tessera's real pages (the
 * template: bench/lib/oauth-pages.ts) is read back from MongoDB with the grant and the connected
 * app its consent recorded, and copied `count` times in bulk (insertMany where the store keeps each
 * record, bench/lib/oauth-layout.ts; the stored documents' exact shape, bench/lib/record-clones.ts). Each copy is what one more consent would have made —
 * its own grant and connected app, its own code with its own PKCE challenge — minted now: iat now,
 * expiring after the code's 60 s like a fresh one. The session the template was made in is kept
 * (one user connecting again and again in one browser).
 *
 * Why not the pages for every code: on FerretDB a code through the pages took ~80 ms on a fresh
 * database (four requests, each with several writes: interaction, session, grant, connected app,
 * audit, code), and the writes do not overlap: ~12 codes/s, slower still as collections fill.
 */
import { createHash, randomBytes } from 'node:crypto';
import { BulkWriter, openOAuthLayout } from './oauth-layout.ts';
import type { MintedCode } from './oauth-pages.ts';
import { cloneModelDoc, newId, shifted, type Clone, type Doc } from './record-clones.ts';

export interface CodeTemplate {
  code: string;
  /** The template's session: kept by every copy. */
  sessionUid: string;
  docs: { code: Doc; grant: Doc; app: Doc };
}

/** Reads the template code's documents; call before the template is redeemed (and within its 60 s). */
export async function readCodeTemplate(mongoUri: string, code: string): Promise<CodeTemplate> {
  const layout = await openOAuthLayout(mongoUri);
  try {
    const record = async (key: string): Promise<Doc> => {
      const doc = await layout.readRecord(key);
      if (!doc) throw new Error(`the template code has no stored record ${key.slice(0, 30)}…`);
      return doc;
    };
    const codeDoc = await record(`AuthorizationCode:${code}`);
    const payload = JSON.parse(codeDoc['payload'] as string) as { grantId: string; sessionUid: string };
    const app = (await layout.connection.db!.collection<Doc>('connected_apps').findOne({ _id: payload.grantId })) as Doc | null;
    if (!app) throw new Error('the template code has no connected app');
    return { code, sessionUid: payload.sessionUid, docs: { code: codeDoc, grant: await record(`Grant:${payload.grantId}`), app } };
  } finally {
    await layout.close();
  }
}

/** `count` fresh codes, copies of the template, inserted in bulk where the store keeps them. */
export async function cloneCodesInMongo(mongoUri: string, template: CodeTemplate, count: number): Promise<MintedCode[]> {
  const layout = await openOAuthLayout(mongoUri);
  try {
    const templateIat = (JSON.parse(template.docs.code['payload'] as string) as { iat: number }).iat;
    const shiftS = Math.floor(Date.now() / 1000) - templateIat;
    const writer = new BulkWriter(layout.connection);
    const codes: MintedCode[] = [];
    for (let i = 0; i < count; i++) {
      const clone: Clone = { ids: new Map(), shiftS, keep: new Set([template.sessionUid, String(template.docs.app['userId'])]) };
      const verifier = randomBytes(32).toString('base64url');
      const code = cloneModelDoc(template.docs.code, clone, (payload) => {
        payload['codeChallenge'] = createHash('sha256').update(verifier).digest('base64url');
      });
      for (const { doc } of [cloneModelDoc(template.docs.grant, clone), code]) await writer.add(layout.recordsOf(doc._id), doc);
      await writer.add('connected_apps', { ...template.docs.app, _id: newId(clone, template.docs.app._id), createdAt: shifted(template.docs.app['createdAt'] as Date, clone) });
      codes.push({ code: String(code.payload['jti']), verifier });
    }
    await writer.flush();
    return codes;
  } finally {
    await layout.close();
  }
}
