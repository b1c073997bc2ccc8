import { describe, expect, it } from '@jest/globals';
import { checkDisplayText, displayTextProblem } from '../../../src/domain/display-text.ts';

describe('display text', () => {
  it.each([
    ['NUL', 'a\u0000b', 'U+0000'],
    ['a C0 control (bell)', 'ding\u0007', 'U+0007'],
    ['a newline', 'two\nlines', 'U+000A'],
    ['a C1 control (NEL)', 'next\u0085line', 'U+0085'],
    ['a bidi override', 'safe\u202Egnp.exe', 'U+202E'],
    ['a bidi isolate', 'a\u2066b\u2069', 'U+2066'],
    ['a zero-width space', 'pay\u200Bpal', 'U+200B'],
    ['a zero-width joiner', 'a\u200Db', 'U+200D'],
    ['a byte-order mark', '\uFEFFname', 'U+FEFF'],
    ['a line separator', 'a\u2028b', 'U+2028'],
    ['a lone high surrogate', 'x\uD800y', 'U+D800'],
    ['a lone low surrogate', 'x\uDC00', 'U+DC00'],
  ])('refuses %s, naming the character', (_what, text, codePoint) => {
    expect(displayTextProblem(text)).toContain(codePoint);
  });

  it('keeps letters of every script, emoji and ordinary punctuation', () => {
    for (const text of ['Zapier — prod', 'Ünïcødé', '日本語のキー', 'مفتاح', 'ключ №1', '🔑 deploys', 'a.b-c_d (e) [f] {g} 50%']) {
      expect(displayTextProblem(text)).toBeNull();
    }
  });

  it('trims, normalizes to NFC and counts characters, not UTF-16 units', () => {
    expect(checkDisplayText('  Cafe\u0301  ', { max: 100 })).toEqual({ value: 'Caf\u00e9' });
    expect(checkDisplayText('🔑'.repeat(100), { max: 100 })).toEqual({ value: '🔑'.repeat(100) });
    expect(checkDisplayText('🔑'.repeat(101), { max: 100 })).toEqual({ problem: 'must be 1–100 characters' });
    expect(checkDisplayText('   ', { min: 1, max: 10 })).toEqual({ problem: 'must not be empty' });
  });

  it('trims white space around a name — tabs and line ends too — before looking at what is kept', () => {
    expect(checkDisplayText('\tprod\r\n', { max: 100 })).toEqual({ value: 'prod' });
    expect(checkDisplayText('\n prod \u2028', { max: 100 })).toEqual({ value: 'prod' });
    // Inside a name, and controls that are not white space, are still refused.
    expect(checkDisplayText('pr\nod', { max: 100 })).toEqual({ problem: 'must not contain control, invisible or direction-changing characters (found U+000A)' });
    expect(checkDisplayText('prod\u0007', { max: 100 })).toEqual({ problem: 'must not contain control, invisible or direction-changing characters (found U+0007)' });
  });
});
