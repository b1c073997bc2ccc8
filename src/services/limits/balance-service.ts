import { roleAtLeast } from '../../domain/accounts.ts';
import { limitProblem } from '../../domain/limits.ts';
import { requireScope } from '../../domain/permissions.ts';
import type { Actor } from '../../domain/principal.ts';
import { ForbiddenError, ValidationError } from '../../errors/index.ts';
import type { MeteringStore } from '../../ports.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { UsageLimiter } from './usage-limiter.ts';
import type { UsageMeter } from './usage-meter.ts';

export interface BalanceView {
  orgId: string;
  /** Every credit ever added. */
  credited: number;
  /** Every credit ever spent, this instance's not-yet-written spending included. */
  spent: number;
  available: number;
}

/**
 * An organization's credit balance: what every request's cost draws on when the deployment keeps
 * balances (TESSERA_CREDIT_BALANCES). Members read it; owners and admins (or an operator) add
 * credits — never a connected app.
 */
export class BalanceService {
  private readonly deps: { metering: MeteringStore; meter: UsageMeter; limiter: UsageLimiter; audit: AuditLog };

  constructor(deps: { metering: MeteringStore; meter: UsageMeter; limiter: UsageLimiter; audit: AuditLog }) {
    this.deps = deps;
  }

  async read(actor: Actor): Promise<BalanceView> {
    requireScope(actor, 'billing:read');
    const balance = await this.deps.metering.balance(actor.orgId);
    const spent = balance.spent + this.deps.meter.pendingCredits(actor.orgId);
    return { orgId: actor.orgId, credited: balance.credited, spent, available: balance.credited - spent };
  }

  async credit(actor: Actor, credits: number): Promise<BalanceView> {
    requireScope(actor, 'billing:write');
    if (!roleAtLeast(actor.role, 'admin')) throw new ForbiddenError('Only owners and admins can add credits');
    if (actor.credential.kind === 'oauth') throw new ForbiddenError('A connected app cannot add credits');
    const problem = limitProblem(credits);
    if (problem) throw new ValidationError('credits', `credits ${problem}`);
    await this.deps.metering.credit(actor.orgId, credits);
    this.deps.limiter.forgetCredited(actor.orgId);
    await this.deps.audit.record(actor, actor.orgId, 'organization.credited', actor.orgId, { credits });
    return this.read(actor);
  }
}
