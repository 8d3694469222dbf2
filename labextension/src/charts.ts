// Bar charts in plain SVG: nothing loaded from the network, works on closed networks.
const NS = 'http://www.w3.org/2000/svg';
const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728'];

function svg(tag: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    el.setAttribute(k, String(v));
  }
  if (text !== undefined) {
    el.textContent = text;
  }
  return el;
}

export interface Series {
  name: string;
  values: (number | null)[];
}

/** Horizontal grouped bars, one group per label; `percent` scales to 0–100.
 * `onClick(i)` gives the action for label i, if it has one. */
export function barChart(
  labels: string[],
  series: Series[],
  percent: boolean,
  onClick?: (index: number) => (() => void) | undefined
): SVGElement {
  const bar = 14;
  const gap = 8;
  const left = 170;
  const width = 640;
  const plot = width - left - 60;
  const group = series.length * bar + gap;
  const top = series.length > 1 ? 24 : 6;
  const height = top + labels.length * group + 20;
  const all = series.flatMap(s => s.values).filter((v): v is number => v !== null);
  const max = percent ? 100 : Math.max(1, ...all);
  const root = svg('svg', {
    class: 'st-chart',
    viewBox: `0 0 ${width} ${height}`,
    width: '100%',
    role: 'img'
  });
  let lx = 0; // legend left to right, each item as wide as its text (CJK ~12px a character)
  series.forEach((s, j) => {
    if (series.length > 1) {
      root.appendChild(svg('rect', { x: lx, y: 4, width: 12, height: 12, fill: COLORS[j % 4] }));
      root.appendChild(svg('text', { x: lx + 16, y: 14, class: 'st-chart-legend' }, s.name));
      lx += 36 + s.name.length * 12;
    }
  });
  for (const tick of [0, 0.5, 1]) {
    const x = left + tick * plot;
    root.appendChild(svg('line', { x1: x, x2: x, y1: top - 2, y2: height - 18, class: 'st-chart-grid' }));
    const label = percent ? `${tick * 100}%` : String(Math.round(tick * max * 10) / 10);
    root.appendChild(svg('text', { x, y: height - 4, class: 'st-chart-tick' }, label));
  }
  labels.forEach((label, i) => {
    const y = top + i * group;
    const name = svg('text', { x: left - 6, y: y + (series.length * bar) / 2 + 4, class: 'st-chart-label' }, label);
    const go = onClick?.(i); // only rows that can be drilled into are links
    if (go) {
      name.classList.add('st-chart-link');
      name.addEventListener('click', go);
    }
    root.appendChild(name);
    series.forEach((s, j) => {
      const value = s.values[i];
      const w = value === null ? 0 : Math.max(0, (Math.min(value, max) / max) * plot);
      const rect = svg('rect', { x: left, y: y + j * bar, width: w, height: bar - 2, fill: COLORS[j % 4] });
      rect.appendChild(svg('title', {}, `${label} · ${s.name}: ${value ?? '—'}${percent ? '%' : ''}`));
      root.appendChild(rect);
      const text = value === null ? '—' : `${Math.round(value * 10) / 10}${percent ? '%' : ''}`;
      root.appendChild(svg('text', { x: left + w + 4, y: y + j * bar + bar - 4, class: 'st-chart-value' }, text));
    });
  });
  return root;
}

/** A progress bar for "done of required". */
export function progress(done: number, required: number): HTMLElement {
  const outer = document.createElement('div');
  outer.className = 'st-progress';
  const inner = document.createElement('div');
  const share = required > 0 ? Math.min(1, done / required) : 1;
  inner.style.width = `${Math.round(share * 100)}%`;
  inner.className = share >= 1 ? 'st-progress-done' : 'st-progress-bar';
  outer.appendChild(inner);
  return outer;
}
