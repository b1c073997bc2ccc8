/** Connection strings may carry a password (`scheme://user:pass@host`): never print one. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@');
}
