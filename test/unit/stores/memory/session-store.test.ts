import { MemorySessionStore } from '../../../../src/stores/memory/memory-session-store.ts';
import { describeSessionStore } from '../../../contracts/session-store.contract.ts';

describeSessionStore('memory', async () => new MemorySessionStore());
