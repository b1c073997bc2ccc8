import { MemoryMeteringStore } from '../../../../src/stores/memory/memory-metering-store.ts';
import { describeMeteringStore } from '../../../contracts/metering-store.contract.ts';

describeMeteringStore('memory', async () => new MemoryMeteringStore());
