// The sleep history as a small inline SVG: recall (left axis, 0-100%) and drift on
// general text (right axis) for each sleep, oldest on the left. No library: two polylines.

const SVG = 'http://www.w3.org/2000/svg';
const W = 520, H = 170, LEFT = 44, RIGHT = 52, TOP = 14, BOTTOM = 30;

function el(name, attrs = {}, text = '') {
    const node = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text) node.textContent = text;
    return node;
}

const pct = (x, digits = 0) => `${(x * 100).toFixed(digits)}%`;

/** What a sleep left in place: the new edits if it kept them, else the old ones. */
export function outcome(report) {
    const kept = Boolean(report.kept_new);
    return {
        recall: kept ? report.audit_after : report.audit_before,
        drift: kept ? report.drift_after : report.drift_before,
        kept,
    };
}

/** sleeps: [{finished_at, report}] oldest first, each with facts audited. */
export function sleepChart(sleeps) {
    const points = sleeps.map((s) => ({ at: s.finished_at, ...outcome(s.report) }));
    const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', class: 'chart' });
    svg.append(el('title', {}, 'Recall and drift after each sleep'));
    const plotW = W - LEFT - RIGHT, plotH = H - TOP - BOTTOM;
    // Drift is a few percent at most: it gets its own scale, at least 0-5%.
    const driftMax = Math.max(0.05, ...points.map((p) => Math.abs(p.drift ?? 0))) * 1.1;
    const x = (i) => LEFT + (points.length === 1 ? plotW / 2 : (i * plotW) / (points.length - 1));
    const yRecall = (r) => TOP + plotH * (1 - r);
    const yDrift = (d) => TOP + plotH * (1 - Math.abs(d) / driftMax);

    for (const r of [0, 0.5, 1]) {
        svg.append(el('line', { x1: LEFT, x2: W - RIGHT, y1: yRecall(r), y2: yRecall(r), class: 'grid' }));
        svg.append(el('text', { x: LEFT - 6, y: yRecall(r) + 4, class: 'axis recall', 'text-anchor': 'end' }, pct(r)));
    }
    for (const d of [0, driftMax / 2, driftMax]) {
        svg.append(el('text', { x: W - RIGHT + 6, y: yDrift(d) + 4, class: 'axis drift' }, pct(d, 1)));
    }
    for (const [key, y, cls] of [['recall', yRecall, 'recall'], ['drift', yDrift, 'drift']]) {
        // a sleep that refused its new edits on recall alone never measured the old ones' drift
        const shown = points.map((p, i) => [p, i]).filter(([p]) => p[key] != null);
        const coords = shown.map(([p, i]) => `${x(i)},${y(p[key])}`).join(' ');
        svg.append(el('polyline', { points: coords, class: `line ${cls}` }));
        shown.forEach(([p, i]) => {
            const dot = el('circle', { cx: x(i), cy: y(p[key]), r: 4, class: `dot ${cls}` });
            const when = new Date(p.at * 1000).toLocaleString();
            dot.append(el('title', {}, `${when}: ${key} ${pct(p[key], 1)}${p.kept ? '' : ' (old edits kept)'}`));
            svg.append(dot);
        });
    }
    svg.append(el('text', { x: LEFT, y: H - 8, class: 'legend recall' }, '● recall (audit)'));
    svg.append(el('text', { x: LEFT + 140, y: H - 8, class: 'legend drift' }, '● drift on general text'));
    return svg;
}
