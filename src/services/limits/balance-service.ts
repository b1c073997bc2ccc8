import { roleAtLeast } from '../../domain/accounts.ts';
import { limitProblem } from '../../domain/limits.ts';
import { requireScope } from '../../domain/permissions.ts';
import type { Actor } from '../../domain/principal.ts';
import { ForbiddenError, NotFoundError, ValidationError } from '../../errors/index.ts';
import type { MeteringStore, OrganizationStore } from '../../ports.ts';
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

export interface BalanceServiceDeps {
  metering: MeteringStore;
  meter: UsageMeter;
  limiter: UsageLimiter;
  audit: AuditLog;
  organizations: OrganizationStore;
}

/**
 * An organization's credit balance: what every request's cost draws on when the deployment keeps
 * balances (TESSERA_CREDIT_BALANCES). Members read it; owners and admins (or an operator) add
 * credits — never a connected app.
 */
export class BalanceService {
  private readonly deps: BalanceServiceDeps;

  constructor(deps: BalanceServiceDeps) {
    this.deps = deps;
  }

  async read(actor: Actor): Promise<BalanceView> {
    requireScope(actor, 'billing:read');
    return this.view(actor.orgId);
  }

  /** An operator at the CLI adds credits to any organization (recorded as a CLI action). */
  async creditByOperator(orgId: string, credits: number): Promise<BalanceView> {
    if (!(await this.deps.organizations.findById(orgId))) throw new NotFoundError('Organization');
    await this.add(null, orgId, credits);
    return this.view(orgId);
  }

  async credit(actor: Actor, credits: number): Promise<BalanceView> {
    requireScope(actor, 'billing:write');
    if (!roleAtLeast(actor.role, 'admin')) throw new ForbiddenError('Only owners and admins can add credits');
    if (actor.credential.kind === 'oauth') throw new ForbiddenError('A connected app cannot add credits');
    await this.add(actor, actor.orgId, credits);
    return this.view(actor.orgId);
  }

  private async add(actor: Actor | null, orgId: string, credits: number): Promise<void> {
    const problem = limitProblem(credits);
    if (problem) throw new ValidationError('credits', `credits ${problem}`);
    await this.deps.metering.credit(orgId, credits);
    this.deps.limiter.forgetCredited(orgId);
    await this.deps.audit.record(actor, orgId, 'organization.credited', orgId, { credits });
  }

  private async view(orgId: string): Promise<BalanceView> {
    const balance = await this.deps.metering.balance(orgId);
    const spent = balance.spent + this.deps.meter.pendingCredits(orgId);
    return { orgId, credited: balance.credited, spent, available: balance.credited - spent };
  }
}
