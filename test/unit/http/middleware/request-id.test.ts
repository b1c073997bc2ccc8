import { describe, expect, it } from '@jest/globals';
import { mintRequestId, requestIdFor } from '../../../../src/http/middleware/request-id.ts';

/** RFC 9562 layout, version 8 (custom), variant 10. */
const UUID_V8 = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('request ids', () => {
  it('mints ids in the UUID layout, version 8, never the same twice', () => {
    const ids = Array.from({ length: 1_000 }, () => mintRequestId());
    for (const id of ids) expect(id).toMatch(UUID_V8);
    expect(new Set(ids).size).toBe(ids.length);
    // One process draws its random part once; the rest counts up.
    expect(new Set(ids.map((id) => id.slice(0, 24))).size).toBe(1);
  });

  it('keeps a caller’s well-formed id and replaces anything else', () => {
    expect(requestIdFor('trace-123:a.b_C')).toBe('trace-123:a.b_C');
    for (const bad of [undefined, '', 'has space', 'x'.repeat(129), 'semi;colon', 'line\nbreak', ['a', 'b']]) {
      expect(requestIdFor(bad)).toMatch(UUID_V8);
    }
  });
});
