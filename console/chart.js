// chart.js: small SVG charts for the console (Sync health): a bar chart of counts per time
// bucket (stacked series) and a line chart (several series, gaps for nulls), drawn from the
// data given, no library. Each chart carries a <title>/<desc> and a visually hidden data table
// for screen readers. Must not: fetch data, poll, or touch the page outside the element returned.

const NS = 'http://www.w3.org/2000/svg';
const W = 640;
const H = 180;
const PAD = {left: 48, right: 12, top: 12, bottom: 28};

function svgEl(tag, attrs = {}, text) {
  const n = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
  if (text !== undefined) n.textContent = text;
  return n;
}

// A round upper bound for the y axis: 1, 2, 5 x 10^k at or above max.
export function niceMax(max) {
  if (!(max > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(max)));
  for (const m of [1, 2, 5, 10]) if (m * p >= max) return m * p;
  return 10 * p;
}

function hhmm(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return d.toISOString().slice(11, 16);
}

function frame(svg, maxY, times, fmtY) {
  const plotH = H - PAD.top - PAD.bottom;
  for (const f of [0, 0.5, 1]) {
    const y = PAD.top + plotH * (1 - f);
    svg.append(svgEl('line', {x1: PAD.left, x2: W - PAD.right, y1: y, y2: y, class: 'chart-grid'}));
    svg.append(svgEl('text', {x: PAD.left - 6, y: y + 4, 'text-anchor': 'end', class: 'chart-axis'},
                     fmtY(maxY * f)));
  }
  const n = times.length;
  if (n === 0) return;
  const plotW = W - PAD.left - PAD.right;
  const ticks = Math.min(6, n);
  for (let i = 0; i < ticks; i++) {
    const idx = ticks === 1 ? 0 : Math.round((i * (n - 1)) / (ticks - 1));
    const x = PAD.left + (plotW * (idx + 0.5)) / n;
    svg.append(svgEl('text', {x, y: H - 8, 'text-anchor': 'middle', class: 'chart-axis'},
                     hhmm(times[idx])));
  }
}

function wrap(title, desc, svg, series, times, fmtV) {
  const fig = document.createElement('figure');
  fig.className = 'chart';
  const cap = document.createElement('figcaption');
  cap.textContent = title;
  fig.append(cap, svg);
  const legend = document.createElement('ul');
  legend.className = 'chart-legend';
  for (const s of series) {
    const li = document.createElement('li');
    const sw = document.createElement('span');
    sw.className = `chart-swatch ${s.cls}`;
    sw.setAttribute('aria-hidden', 'true');
    li.append(sw, document.createTextNode(s.label));
    legend.append(li);
  }
  fig.append(legend);
  // the same numbers for screen readers
  const table = document.createElement('table');
  table.className = 'visually-hidden';
  const head = document.createElement('tr');
  for (const h of ['Time (UTC)', ...series.map(s => s.label)]) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = h;
    head.append(th);
  }
  table.append(head);
  times.forEach((t, i) => {
    const tr = document.createElement('tr');
    const cells = [hhmm(t), ...series.map(s => (s.values[i] == null ? 'none' : fmtV(s.values[i])))];
    for (const c of cells) {
      const td = document.createElement('td');
      td.textContent = c;
      tr.append(td);
    }
    table.append(tr);
  });
  const cap2 = document.createElement('caption');
  cap2.textContent = `${title}: ${desc}`;
  table.prepend(cap2);
  fig.append(table);
  return fig;
}

function newSvg(title, desc) {
  const svg = svgEl('svg', {viewBox: `0 0 ${W} ${H}`, class: 'chart-svg', 'aria-hidden': 'true',
                            focusable: 'false'});
  svg.append(svgEl('title', {}, title), svgEl('desc', {}, desc));
  return svg;
}

// Stacked bars: series = [{label, cls, values:[n per bucket]}], times = bucket starts (ISO).
export function barChart({title, desc = '', times, series, fmt = v => String(Math.round(v))}) {
  const svg = newSvg(title, desc);
  const n = times.length;
  const totals = times.map((_, i) => series.reduce((a, s) => a + (Number(s.values[i]) || 0), 0));
  const maxY = niceMax(Math.max(0, ...totals));
  frame(svg, maxY, times, fmt);
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const bw = n ? plotW / n : 0;
  for (let i = 0; i < n; i++) {
    let acc = 0;
    for (const s of series) {
      const v = Number(s.values[i]) || 0;
      if (v <= 0) continue;
      const h = (plotH * v) / maxY;
      const y = PAD.top + plotH - (plotH * acc) / maxY - h;
      svg.append(svgEl('rect', {x: PAD.left + i * bw + bw * 0.1, y, width: Math.max(1, bw * 0.8),
                                height: h, class: s.cls}));
      acc += v;
    }
  }
  return wrap(title, desc, svg, series, times, fmt);
}

// Lines: series = [{label, cls, values:[number|null per bucket]}]; a null breaks the line.
export function lineChart({title, desc = '', times, series, fmt = v => String(Math.round(v))}) {
  const svg = newSvg(title, desc);
  const n = times.length;
  const all = series.flatMap(s => s.values.filter(v => v != null).map(Number));
  const maxY = niceMax(Math.max(0, ...all));
  frame(svg, maxY, times, fmt);
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  for (const s of series) {
    let d = '';
    let pen = false;
    s.values.forEach((v, i) => {
      if (v == null) {
        pen = false;
        return;
      }
      const x = PAD.left + (plotW * (i + 0.5)) / n;
      const y = PAD.top + plotH - (plotH * Number(v)) / maxY;
      d += `${pen ? 'L' : 'M'}${x.toFixed(1)},${y.toFixed(1)} `;
      pen = true;
      // a lone point would not show as a path: mark every point
      svg.append(svgEl('circle', {cx: x, cy: y, r: 2.5, class: s.cls}));
    });
    if (d) svg.append(svgEl('path', {d: d.trim(), class: `chart-line ${s.cls}`}));
  }
  return wrap(title, desc, svg, series, times, fmt);
}
