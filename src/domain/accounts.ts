/** Accounts: who signs in (users), what they act for (organizations), and with which role. */

export const ROLES = ['owner', 'admin', 'editor', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export interface User {
  id: string;
  email: string;
  name: string | null;
  /** argon2id PHC string; never leaves the service layer. */
  passwordHash: string | null;
  disabled: boolean;
  createdAt: Date;
}

export interface Organization {
  id: string;
  name: string;
  plan: string;
  disabled: boolean;
  createdAt: Date;
}

export interface Membership {
  id: string;
  userId: string;
  orgId: string;
  role: Role;
  createdAt: Date;
}

/**
 * Emails are unique case-insensitively: the whole address is compared lower-cased and trimmed.
 * (RFC 5321 lets the local part be case-sensitive, but no mail provider in use treats it so, and
 * two accounts differing only in case are a support and phishing hazard.)
 */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

const ROLE_RANK: Record<Role, number> = { viewer: 0, editor: 1, admin: 2, owner: 3 };

/** True when `role` carries at least the powers of `required`. */
export function roleAtLeast(role: Role, required: Role): boolean {
  return ROLE_RANK[role] >= ROLE_RANK[required];
}

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}
