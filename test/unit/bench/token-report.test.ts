/**
 * The benchmark's comparison of grant counts within one run (bench/lib/token-report.ts): the
 * medians of each count's alternating runs of a case, against the growth target.
 */
import { describe, expect, it } from '@jest/globals';
import type { CaseResult } from '../../../bench/lib/report.ts';
import { tokenVerdicts, withinRunGrowthVerdicts } from '../../../bench/lib/token-report.ts';

function run(id: string, rps: number, mongoUs: number, serverUs = 1_500, p99 = 50): CaseResult {
  return {
    id,
    label: 'Tessera refresh, FerretDB + Redis',
    group: 'token-tessera',
    connections: Number(/\/(\d+)/.exec(id)![1]),
    grants: Number(id.split('@')[1]),
    load: { requestsPerSecond: rps, p99, non2xx: 0, total: 1_000 } as CaseResult['load'],
    serverUsPerRequest: serverUs,
    serverCpu: null,
    storeUsPerRequest: { mongo: mongoUs, redis: 100 },
    serverElu: null,
    loaderCpu: 0,
    machineBusy: null,
    otherCpu: null,
  } as CaseResult;
}

describe('withinRunGrowthVerdicts', () => {
  it('compares the medians of the fewest and the most grants, per case', () => {
    const results = [
      run('r2/1@1000', 200, 2_900), run('r2/1@100000', 150, 4_900),
      run('r2/1@1000', 220, 3_100), run('r2/1@100000', 210, 3_300),
      run('r2/1@1000', 260, 2_500), run('r2/1@100000', 205, 3_400),
      run('x/20@1000', 500, 2_000), run('x/20@100000', 300, 2_100),
    ];
    const verdicts = withinRunGrowthVerdicts(results);
    expect(verdicts).toHaveLength(2);
    // Medians 220 → 205 req/s (−6.8 %), 3,000 → 3,500 µs with Redis (+16.7 %): one slow run does not decide.
    expect(verdicts[0]).toMatchObject({ what: expect.stringContaining('(r2/1) at 1,000 vs 100,000 grants'), met: true });
    expect(verdicts[0]!.detail).toContain('medians of 3 and 3 alternating runs: req/s −6.8 % (220 → 205)');
    expect(verdicts[0]!.detail).toContain('store CPU/req +16.7 % (3,000 → 3,500 µs)');
    // 500 → 300 req/s is −40 %.
    expect(verdicts[1]).toMatchObject({ what: expect.stringContaining('(x/20)'), met: false });
  });

  it('says nothing of a run of one grant count', () => {
    expect(withinRunGrowthVerdicts([run('r2/1', 200, 3_000)])).toEqual([]);
  });
});

describe('tokenVerdicts', () => {
  it("judges a case run several times by its median CPU, and names every run's", () => {
    const results = [run('r2/1@1000', 200, 3_000, 2_100), run('r2/1@1000', 220, 3_000, 1_300), run('r2/1@1000', 230, 3_000, 1_400)];
    const cpu = tokenVerdicts(results, {}).find((v) => v.what.startsWith('(r2/1@1000) Tessera'));
    expect(cpu).toEqual({ what: "(r2/1@1000) Tessera's CPU per refresh ≤ 2 ms", met: true, detail: '1.40 ms (median of 2.10, 1.30, 1.40)' });
  });

  it('refuses p99 at 20 connections if any run of the case was slower than 1 s', () => {
    const results = [run('r2/20@1000', 500, 2_000, 1_000, 80), run('r2/20@1000', 500, 2_000, 1_000, 1_200), run('r2/20@1000', 500, 2_000, 1_000, 90)];
    const p99 = tokenVerdicts(results, {}).find((v) => v.what.startsWith('(r2/20@1000) no 5xx'));
    expect(p99).toMatchObject({ met: false, detail: '0 non-2xx, p99 1200.00 ms (the highest of 3 runs)' });
  });
});
