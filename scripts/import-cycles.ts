/**
 * Finds import cycles among the TypeScript modules under the given folders (default: src and kit)
 * and exits 1 naming each, 0 when there is none. `npm run lint` runs it: the layers of
 * docs/architecture.md only hold if no module can reach back to itself.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const IMPORT = /^\s*(?:import|export)\s(?:[^'"]*?\sfrom\s)?['"](\.{1,2}\/[^'"]+)['"]/gm;

/** Every .ts file below `dir`. */
function modulesIn(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'node_modules' ? [] : modulesIn(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** The graph of relative imports, type-only ones included (they tie modules together just the same). */
export function importGraph(roots: string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of roots.flatMap((root) => modulesIn(resolve(root)))) {
    const source = readFileSync(file, 'utf8');
    graph.set(file, [...source.matchAll(IMPORT)].map((m) => resolve(dirname(file), m[1]!)));
  }
  return graph;
}

/** Each cycle once, as the list of modules around it (the first repeated at the end). */
export function findCycles(graph: Map<string, string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (node: string): void => {
    state.set(node, 'open');
    path.push(node);
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue;
      if (state.get(next) === 'open') cycles.push([...path.slice(path.indexOf(next)), next]);
      else if (state.get(next) === undefined) visit(next);
    }
    path.pop();
    state.set(node, 'done');
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return cycles;
}

if (import.meta.main) {
  const roots = process.argv.length > 2 ? process.argv.slice(2) : ['src', 'kit'];
  const cycles = findCycles(importGraph(roots));
  for (const cycle of cycles) console.error(`import cycle: ${cycle.map((f) => relative(process.cwd(), f)).join(' → ')}`);
  if (cycles.length > 0) process.exit(1);
  console.log(`no import cycle in ${roots.join(', ')}`);
}
