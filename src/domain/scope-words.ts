/** Scopes in words, for the consent page. */
const KNOWN: Record<string, string> = {
  openid: 'Know who you are',
  offline_access: 'Stay connected when you are not using it',
  email: 'See your email address',
  profile: 'See your name',
  'keys:read': 'See your API keys',
  'keys:write': 'Create, change and delete API keys',
  'audit:read': 'Read the organization’s audit log',
  'apps:read': 'See the apps connected to your account',
  'apps:write': 'Disconnect apps from your account',
  'billing:read': 'See the organization’s credit balance',
  'billing:write': 'Add credits to the organization’s balance',
};

const VERBS: Record<string, string> = { read: 'Read', write: 'Create and change', delete: 'Delete', admin: 'Administer' };

/** `leads:read` → "Read leads"; a scope of another shape is shown as it is. */
export function describeScope(scope: string): string {
  const known = KNOWN[scope];
  if (known) return known;
  if (scope in VERBS) return `${VERBS[scope]} your data`;
  const [resource, action] = scope.split(':');
  const verb = action ? VERBS[action] : undefined;
  return verb && resource ? `${verb} ${resource.replaceAll(/[_.-]/g, ' ')}` : scope;
}
