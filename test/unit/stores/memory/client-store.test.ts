import { MemoryClientStore } from '../../../../src/stores/memory/memory-client-store.ts';
import { describeClientStore } from '../../../contracts/client-store.contract.ts';

describeClientStore('memory', async () => new MemoryClientStore());
