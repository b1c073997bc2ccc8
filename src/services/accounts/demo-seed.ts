import { randomBase62 } from '../../domain/ids.ts';
import type { AccountService } from './account-service.ts';

export const DEMO_EMAIL = 'demo@tessera.local';
export const DEMO_ORG_ID = 'org_demo';

export interface DemoAccount {
  email: string;
  password: string;
  orgId: string;
  userId: string;
}

/**
 * The embedded default's demo organization and owner. The password is random per start and
 * shown once on the terminal, like any credential at its creation.
 */
export async function seedDemo(accounts: AccountService): Promise<DemoAccount> {
  const password = randomBase62(20);
  const org = await accounts.createOrganization({ id: DEMO_ORG_ID, name: 'Demo Organization', plan: 'free' });
  const user = await accounts.createUser({ email: DEMO_EMAIL, password, name: 'Demo Owner' });
  await accounts.setMembership(user.id, org.id, 'owner');
  return { email: DEMO_EMAIL, password, orgId: org.id, userId: user.id };
}
