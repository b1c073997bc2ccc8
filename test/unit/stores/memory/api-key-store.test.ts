import { MemoryApiKeyStore } from '../../../../src/stores/memory/memory-api-key-store.ts';
import { describeApiKeyStore } from '../../../contracts/api-key-store.contract.ts';

describeApiKeyStore('memory', async () => new MemoryApiKeyStore());
