// A plot of a box in a 2-D plane: a canvas for the picture (heatmap, arrows), an SVG on top for marks
// (data points, trajectories) and axes, and one mapping between data coordinates and pixels for both.
import d3 from "./d3.js";
import { el } from "./dom.js";

const MARGIN = { top: 6, right: 8, bottom: 34, left: 44 };

export class Plane {
  constructor(host, { id, size, xLabel = "x", yLabel = "y" }) {
    this.size = size;
    this.x = d3.scaleLinear().range([0, size]);
    this.y = d3.scaleLinear().range([size, 0]);
    const width = size + MARGIN.left + MARGIN.right;
    const height = size + MARGIN.top + MARGIN.bottom;
    const box = el("div", { class: "plane" });
    box.style.width = `${width}px`;
    box.style.height = `${height}px`;
    this.canvas = el("canvas", { id, width: size, height: size, role: "img", "aria-label": host.dataset.label ?? id });
    this.canvas.style.left = `${MARGIN.left}px`;
    this.canvas.style.top = `${MARGIN.top}px`;
    box.append(this.canvas);
    host.replaceChildren(box);
    this.svg = d3.select(box).append("svg").attr("width", width).attr("height", height).attr("aria-hidden", "true");
    this.xAxis = this.svg.append("g").attr("class", "axis").attr("transform", `translate(${MARGIN.left},${MARGIN.top + size})`);
    this.yAxis = this.svg.append("g").attr("class", "axis").attr("transform", `translate(${MARGIN.left},${MARGIN.top})`);
    this.xTitle = this.svg.append("text").attr("class", "axis-title").attr("x", MARGIN.left + size / 2).attr("y", height - 4);
    this.yTitle = this.svg
      .append("text")
      .attr("class", "axis-title")
      .attr("transform", `translate(12,${MARGIN.top + size / 2}) rotate(-90)`);
    // Marks stay inside the plot: a trajectory leaving the box must not draw over the page.
    const clip = `${id}-clip`;
    this.svg.append("defs").append("clipPath").attr("id", clip).append("rect").attr("width", size).attr("height", size);
    this.marks = this.svg
      .append("g")
      .attr("transform", `translate(${MARGIN.left},${MARGIN.top})`)
      .attr("clip-path", `url(#${clip})`);
    this.layers = new Map();
    this.setLabels(xLabel, yLabel);
  }

  setLabels(xLabel, yLabel) {
    this.xTitle.text(xLabel);
    this.yTitle.text(yLabel);
  }

  setBounds(bounds) {
    this.bounds = bounds;
    this.x.domain(bounds[0]);
    this.y.domain(bounds[1]);
    this.canvas.dataset.bounds = JSON.stringify(bounds);
    this.xAxis.call(d3.axisBottom(this.x).ticks(6));
    this.yAxis.call(d3.axisLeft(this.y).ticks(6));
  }

  toPixel(point) {
    return [this.x(point[0]), this.y(point[1])];
  }

  // The data point under a pixel of the canvas (pixel coordinates from its top-left corner).
  toData(px, py) {
    return [this.x.invert(px), this.y.invert(py)];
  }

  layer(name) {
    if (!this.layers.has(name)) this.layers.set(name, this.marks.append("g").attr("class", name));
    return this.layers.get(name);
  }

  onClick(handler) {
    this.canvas.addEventListener("click", (event) => {
      const rect = this.canvas.getBoundingClientRect();
      const px = ((event.clientX - rect.left) * this.canvas.width) / rect.width;
      const py = ((event.clientY - rect.top) * this.canvas.height) / rect.height;
      handler(this.toData(px, py));
    });
  }

  // Paint a grid of samples (xs[i], ys[j]) as cells whose centres sit on their sample points;
  // smooth: interpolate between samples (a probability), else show each cell flat (a count).
  paintGrid(xs, ys, colourAt, { smooth }) {
    const nx = xs.length;
    const ny = ys.length;
    const cells = el("canvas", { width: nx, height: ny });
    const image = new ImageData(nx, ny);
    const upwards = ys[ny - 1] > ys[0];
    for (let j = 0; j < ny; j++) {
      const row = upwards ? ny - 1 - j : j;
      for (let i = 0; i < nx; i++) {
        const [r, g, b] = colourAt(i, j);
        image.data.set([r, g, b, 255], 4 * (row * nx + i));
      }
    }
    cells.getContext("2d").putImageData(image, 0, 0);
    const dx = (xs[nx - 1] - xs[0]) / (nx - 1);
    const dy = Math.abs(ys[ny - 1] - ys[0]) / (ny - 1);
    const [left, top] = this.toPixel([Math.min(xs[0], xs[nx - 1]) - dx / 2, Math.max(ys[0], ys[ny - 1]) + dy / 2]);
    const [right, bottom] = this.toPixel([Math.max(xs[0], xs[nx - 1]) + dx / 2, Math.min(ys[0], ys[ny - 1]) - dy / 2]);
    const ctx = this.canvas.getContext("2d");
    ctx.clearRect(0, 0, this.size, this.size);
    ctx.imageSmoothingEnabled = smooth;
    ctx.imageSmoothingQuality = "high";
    ctx.drawImage(cells, left, top, right - left, bottom - top);
  }
}

// A square box around points (rows of [x, y]), padded, so both axes share one scale.
export function squareBox(points, pad = 0.12) {
  const lo = [Infinity, Infinity];
  const hi = [-Infinity, -Infinity];
  for (const p of points) {
    for (const d of [0, 1]) {
      lo[d] = Math.min(lo[d], p[d]);
      hi[d] = Math.max(hi[d], p[d]);
    }
  }
  if (!Number.isFinite(lo[0])) return [[-2, 2], [-2, 2]];
  const half = (Math.max(hi[0] - lo[0], hi[1] - lo[1], 1e-3) / 2) * (1 + 2 * pad);
  return [0, 1].map((d) => {
    const mid = (lo[d] + hi[d]) / 2;
    return [round(mid - half), round(mid + half)];
  });
}

function round(value) {
  return Math.round(value * 1000) / 1000;
}
