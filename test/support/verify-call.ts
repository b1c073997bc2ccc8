import type { VerifyAnswer } from '../../src/services/authentication/verification-service.ts';

/** POST /v1/verify as a resource server (its Basic `authorization`); anything but 200 fails the test. */
export async function verifyCall(base: string, authorization: string, body: Record<string, unknown>): Promise<VerifyAnswer> {
  const res = await fetch(`${base}/v1/verify`, { method: 'POST', headers: { 'content-type': 'application/json', authorization }, body: JSON.stringify(body) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`verify answered ${res.status}: ${text}`);
  return JSON.parse(text) as VerifyAnswer;
}
