import { describe, expect, it } from '@jest/globals';
import { ERROR_CODES, httpStatusFor } from '../../../src/errors/index.ts';

describe('httpStatusFor', () => {
  it('maps the error codes to their statuses', () => {
    expect(httpStatusFor('UNAUTHORIZED')).toBe(401);
    expect(httpStatusFor('FORBIDDEN')).toBe(403);
    expect(httpStatusFor('NOT_FOUND')).toBe(404);
    expect(httpStatusFor('VALIDATION_FAILED')).toBe(400);
    expect(httpStatusFor('PAYMENT_REQUIRED')).toBe(402);
    expect(httpStatusFor('RATE_LIMITED')).toBe(429);
    expect(httpStatusFor('UNAVAILABLE')).toBe(503);
    expect(httpStatusFor('PAYLOAD_TOO_LARGE')).toBe(413);
    expect(httpStatusFor('UNSUPPORTED_MEDIA_TYPE')).toBe(415);
    expect(httpStatusFor('METHOD_NOT_ALLOWED')).toBe(405);
  });

  it('gives every code an error status', () => {
    for (const code of ERROR_CODES) {
      const status = httpStatusFor(code);
      expect(status).toBeGreaterThanOrEqual(400);
      expect(status).toBeLessThan(600);
    }
  });
});
