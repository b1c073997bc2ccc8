import { describe, expect, it } from '@jest/globals';
import { clientAddress } from '../../../src/http/client-address.ts';

const from = (remoteAddress: string, forwarded?: string | string[]) => ({
  headers: forwarded === undefined ? {} : { 'x-forwarded-for': forwarded },
  socket: { remoteAddress } as never,
});

describe('clientAddress', () => {
  it('is the socket peer when no proxy is trusted, whatever X-Forwarded-For says', () => {
    expect(clientAddress(from('192.0.2.1', '203.0.113.9'), 0)).toBe('192.0.2.1');
  });

  it('takes the entry the trusted proxies appended, counting from the right', () => {
    expect(clientAddress(from('10.0.0.1', 'spoofed, 198.51.100.4'), 1)).toBe('198.51.100.4');
    expect(clientAddress(from('10.0.0.1', 'spoofed, 198.51.100.4, 10.0.0.9'), 2)).toBe('198.51.100.4');
    expect(clientAddress(from('10.0.0.1', ['spoofed', ' 198.51.100.4 ']), 1)).toBe('198.51.100.4');
  });

  it('falls back to the leftmost entry when fewer proxies appended than configured, and to the peer with none', () => {
    expect(clientAddress(from('10.0.0.1', '198.51.100.4'), 2)).toBe('198.51.100.4');
    expect(clientAddress(from('10.0.0.1'), 1)).toBe('10.0.0.1');
    expect(clientAddress(from('10.0.0.1', ' , '), 1)).toBe('10.0.0.1');
  });
});
