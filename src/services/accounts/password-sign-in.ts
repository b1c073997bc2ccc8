import type { User } from '../../domain/accounts.ts';
import type { LoginThrottle } from '../limits/login-throttle.ts';
import type { AccountService } from './account-service.ts';

export type SignInOutcome = { kind: 'signed-in'; user: User } | { kind: 'wrong-credentials' } | { kind: 'throttled'; retryAfterSeconds: number };

/**
 * A person's email and password, checked under the sign-in throttle (per address, and per
 * account against spraying): one rule for every page that signs people in — the OAuth
 * authorization flow's and the console's.
 */
export class PasswordSignIn {
  private readonly accounts: AccountService;
  private readonly throttle: LoginThrottle;

  constructor(accounts: AccountService, throttle: LoginThrottle) {
    this.accounts = accounts;
    this.throttle = throttle;
  }

  async signIn(email: string, password: string, clientAddress: string): Promise<SignInOutcome> {
    const wait = await this.throttle.blocked(clientAddress, email);
    if (wait !== null) return { kind: 'throttled', retryAfterSeconds: wait };
    const user = await this.accounts.authenticate(email, password);
    if (!user) {
      await this.throttle.failed(clientAddress, email);
      return { kind: 'wrong-credentials' };
    }
    await this.throttle.succeeded(email);
    return { kind: 'signed-in', user };
  }
}
