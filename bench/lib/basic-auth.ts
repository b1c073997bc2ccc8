/** The Authorization value of client_secret_basic: RFC 6749 §2.3.1 form-urlencodes each part, then Base64 of "id:secret". */
export function basicAuth(id: string, secret: string): string {
  const enc = (s: string): string => encodeURIComponent(s).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString('base64')}`;
}
