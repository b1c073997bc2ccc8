import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { findCycles, importGraph } from '../../../scripts/import-cycles.ts';

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'cycles-'));
  for (const [path, source] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), source);
  }
  return root;
}

describe('import cycles', () => {
  it('finds a cycle through type-only and multi-line imports, naming its modules', () => {
    const root = tree({
      'a.ts': "import { b } from './sub/b.ts';\nexport const a = b;\n",
      'sub/b.ts': "import type {\n  C,\n} from '../c.ts';\nexport const b = 1 as unknown as C;\n",
      'c.ts': "export type { A } from './a.ts';\nexport type C = number;\n",
      'd.ts': "import { a } from './a.ts';\nexport const d = a;\n",
    });
    const cycles = findCycles(importGraph([root]));
    expect(cycles.map((c) => c.map((f) => f.slice(root.length + 1)))).toEqual([['a.ts', 'sub/b.ts', 'c.ts', 'a.ts']]);
  });

  it('finds none in a tree that only imports downwards, nor through packages', () => {
    const root = tree({ 'a.ts': "import { z } from 'zod';\nimport { b } from './b.ts';\nexport const a = [z, b];\n", 'b.ts': 'export const b = 1;\n' });
    expect(findCycles(importGraph([root]))).toEqual([]);
  });
});
