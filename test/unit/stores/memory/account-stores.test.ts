import { MemoryMembershipStore } from '../../../../src/stores/memory/memory-membership-store.ts';
import { MemoryOrganizationStore } from '../../../../src/stores/memory/memory-organization-store.ts';
import { MemoryUserStore } from '../../../../src/stores/memory/memory-user-store.ts';
import { describeAccountStores } from '../../../contracts/account-stores.contract.ts';

describeAccountStores('memory', async () => ({
  users: new MemoryUserStore(),
  organizations: new MemoryOrganizationStore(),
  memberships: new MemoryMembershipStore(),
}));
