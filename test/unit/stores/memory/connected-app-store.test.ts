import { MemoryConnectedAppStore } from '../../../../src/stores/memory/memory-connected-app-store.ts';
import { describeConnectedAppStore } from '../../../contracts/connected-app-store.contract.ts';

describeConnectedAppStore('memory', async () => new MemoryConnectedAppStore());
