import type { DailyUsage } from '../../../ports.ts';
import { html, raw, type Html } from '../../views/html.ts';

const WIDTH = 600;
const HEIGHT = 160;
const AXIS = 18;

/**
 * A daily series as bars, drawn on the server (an SVG in the page: no script, nothing loaded),
 * with the numbers also in a table for those who do not see the chart.
 */
export function usageChart(series: DailyUsage[], field: 'requests' | 'credits', label: string): Html {
  const values = series.map((d) => d[field]);
  const max = Math.max(1, ...values);
  const total = values.reduce((a, b) => a + b, 0);
  const step = WIDTH / Math.max(1, series.length);
  const bars = series.map((d, i) => {
    const h = Math.round(((HEIGHT - AXIS) * d[field]) / max);
    return html`<rect class="bar" x="${(i * step + 1).toFixed(1)}" y="${HEIGHT - AXIS - h}" width="${Math.max(1, step - 2).toFixed(1)}" height="${h}"><title>${d.day}: ${d[field]}</title></rect>`;
  });
  const first = series[0]?.day ?? '';
  const last = series.at(-1)?.day ?? '';
  return html`<figure>
<svg class="chart" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${label} per day from ${first} to ${last}: ${total} in all, at most ${Math.max(0, ...values)} a day">
${bars}
<text x="0" y="${HEIGHT - 4}">${first}</text><text x="${WIDTH}" y="${HEIGHT - 4}" text-anchor="end">${last}</text>
<text x="0" y="11">${max}</text>
</svg>
<figcaption class="muted">${label} per UTC day, ${raw(String(total))} in all.</figcaption>
</figure>`;
}

/** The same series as a table (inside a details element: the chart's numbers, for screen readers and for copying). */
export function usageTable(series: DailyUsage[], withCredits: boolean): Html {
  const rows = [...series].reverse().map((d) => html`<tr><td>${d.day}</td><td>${d.requests}</td>${withCredits ? html`<td>${d.credits}</td>` : html``}</tr>`);
  return html`<details><summary>The numbers</summary><div class="table-wrap"><table><thead><tr><th scope="col">Day (UTC)</th><th scope="col">Requests</th>${withCredits ? html`<th scope="col">Credits</th>` : html``}</tr></thead><tbody>${rows}</tbody></table></div></details>`;
}
