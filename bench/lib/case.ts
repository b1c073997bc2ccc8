/**
 * What bench/run.ts measures: a server under test and a way to load it. The introspection and
 * verification cases cycle through a fixed list of requests; the token cases supply their own
 * load (tokens minted for each run, each presented once: bench/lib/token-cases.ts).
 */
import type { LoadResult } from './load.ts';
import type { CaseGroup } from './report.ts';
import type { Target } from './targets.ts';

export interface Measurable {
  /** Unique in a run, e.g. `d` or `r2/20`. */
  id: string;
  label: string;
  group: CaseGroup;
  target: Target;
  connections: number;
  /** Whether the server uses the benchmark's MongoDB-wire server and Redis (their CPU is reported). */
  usesStores: boolean;
  /** The discarded load before the measured run, with whatever it needs minted first. */
  warmUp(seconds: number): Promise<LoadResult>;
  /** What the measured run needs (minted tokens…), made before its window opens. */
  prepare(seconds: number): Promise<void>;
  /** The measured load. */
  run(seconds: number): Promise<LoadResult>;
  /** The target's CPU profile file (under --profile), to cut to the measured run. */
  profileFile?: string;
  /** The grants in the stores beside the case's own (--grants), for the report. */
  grants?: number;
}
