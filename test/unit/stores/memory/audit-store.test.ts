import { MemoryAuditStore } from '../../../../src/stores/memory/memory-audit-store.ts';
import { describeAuditStore } from '../../../contracts/audit-store.contract.ts';

describeAuditStore('memory', async () => new MemoryAuditStore());
