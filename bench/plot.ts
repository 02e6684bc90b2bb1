/**
 * docs/benchmarks-policies.svg: notification delay against mean polls per operation, one numbered point per
 * policy (a filled dot at p50, a ring at p99, joined by a line; delay on a log scale) and a legend naming them.
 */
import type {Figures} from './simulate';

/** One point of the plot. */
export interface PlotPoint {
  label: string;
  figures: Figures;
  /** Drawn apart: opwatch's default and the recommended policy. */
  highlight?: boolean;
}

const WIDTH = 980;
const HEIGHT = 440;
const MARGIN = {left: 70, right: 330, top: 40, bottom: 55};

const escape = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The SVG document. */
export function policyPlot(points: readonly PlotPoint[]): string {
  const maxPolls = Math.max(...points.map(p => p.figures.pollsMean)) * 1.1;
  const delays = points.flatMap(p => [
    p.figures.delayP50S,
    p.figures.delayP99S,
  ]);
  const low = Math.pow(10, Math.floor(Math.log10(Math.min(...delays))));
  const high = Math.pow(10, Math.ceil(Math.log10(Math.max(...delays))));
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const x = (polls: number) => MARGIN.left + (polls / maxPolls) * plotW;
  const y = (seconds: number) =>
    MARGIN.top + plotH * (1 - Math.log(seconds / low) / Math.log(high / low));

  const parts: string[] = [];
  for (let decade = low; decade <= high; decade *= 10) {
    for (const step of [1, 2, 5]) {
      const value = decade * step;
      if (value > high) break;
      parts.push(
        `<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${y(value)}" y2="${y(value)}" stroke="#e5e5e5"/>`,
        `<text x="${MARGIN.left - 8}" y="${y(value) + 4}" text-anchor="end">${value} s</text>`,
      );
    }
  }
  const tick = Math.max(1, Math.round(maxPolls / 8 / 5) * 5);
  for (let polls = 0; polls <= maxPolls; polls += tick) {
    parts.push(
      `<line x1="${x(polls)}" x2="${x(polls)}" y1="${MARGIN.top}" y2="${HEIGHT - MARGIN.bottom}" stroke="#e5e5e5"/>`,
      `<text x="${x(polls)}" y="${HEIGHT - MARGIN.bottom + 18}" text-anchor="middle">${polls}</text>`,
    );
  }
  points.forEach((point, i) => {
    const {pollsMean, delayP50S, delayP99S} = point.figures;
    const color = point.highlight ? '#d62728' : '#1f77b4';
    const [px, p50, p99] = [x(pollsMean), y(delayP50S), y(delayP99S)];
    // Numbers alternate sides, so that neighbours' do not overlap.
    const side = i % 2 === 0 ? 1 : -1;
    parts.push(
      `<line x1="${px}" x2="${px}" y1="${p50}" y2="${p99}" stroke="${color}" stroke-width="1.5"/>`,
      `<circle cx="${px}" cy="${p50}" r="5" fill="${color}"/>`,
      `<circle cx="${px}" cy="${p99}" r="5" fill="white" stroke="${color}" stroke-width="1.5"/>`,
      `<text x="${px + side * 9}" y="${p50 + 4}" text-anchor="${side > 0 ? 'start' : 'end'}" fill="${color}" font-weight="bold">${i + 1}</text>`,
      `<text x="${WIDTH - MARGIN.right + 20}" y="${MARGIN.top + 14 + 36 * i}" fill="${color}"><tspan font-weight="bold">${i + 1}</tspan> ${escape(point.label)}</text>`,
      `<text x="${WIDTH - MARGIN.right + 32}" y="${MARGIN.top + 30 + 36 * i}" fill="#555">${pollsMean.toFixed(1)} polls/op, p50 ${delayP50S.toFixed(1)} s, p99 ${delayP99S.toFixed(1)} s</text>`,
    );
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="${WIDTH / 2}" y="22" text-anchor="middle" font-size="14">Notification delay vs polls per operation (dot p50, ring p99; lower-left is better)</text>
${parts.join('\n')}
<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#888"/>
<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 15}" text-anchor="middle">mean polls per operation</text>
<text transform="translate(18 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">delay from done to publish (log scale)</text>
</svg>
`;
}
