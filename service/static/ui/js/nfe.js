// The NFE map: function evaluations each input needed at the chosen solver settings, over the same
// plane and from the same /grid answer as the surface; where solving gets expensive shows at a glance.
import d3 from "./d3.js";
import { el } from "./dom.js";

const MISSING = [205, 205, 205]; // methods run through torchdiffeq report no per-input NFE

export function drawNfe(plane, grid, legendHost) {
  const values = grid.nfe.flat().filter((n) => n !== null);
  const [lo, hi] = values.length ? d3.extent(values) : [0, 1];
  const scale = d3.scaleSequential(d3.interpolateViridis).domain([lo, hi === lo ? lo + 1 : hi]);
  plane.paintGrid(
    grid.xs,
    grid.ys,
    (i, j) => {
      const n = grid.nfe[j][i];
      if (n === null) return MISSING;
      const c = d3.rgb(scale(n));
      return [c.r, c.g, c.b];
    },
    { smooth: false },
  );
  plane.canvas.dataset.drawn = "nfe";
  legend(legendHost, scale, values);
}

function legend(host, scale, values) {
  const width = 260;
  const svg = d3.create("svg").attr("width", width + 24).attr("height", 34).attr("aria-hidden", "true");
  const gradient = svg.append("defs").append("linearGradient").attr("id", "nfe-gradient");
  for (let s = 0; s <= 10; s++) {
    const [a, b] = scale.domain();
    gradient.append("stop").attr("offset", `${s * 10}%`).attr("stop-color", scale(a + ((b - a) * s) / 10));
  }
  svg.append("rect").attr("x", 12).attr("width", width).attr("height", 10).attr("fill", "url(#nfe-gradient)");
  const axis = d3.scaleLinear().domain(scale.domain()).range([12, 12 + width]);
  svg.append("g").attr("class", "axis").attr("transform", "translate(0,10)").call(d3.axisBottom(axis).ticks(6, "d"));
  const summary = values.length
    ? `NFE per input: ${d3.min(values)} to ${d3.max(values)}, mean ${d3.mean(values).toFixed(1)}`
    : "this method reports no NFE per input";
  host.replaceChildren(svg.node(), el("div", { id: "nfe-range", class: "hint" }, summary));
  host.dataset.mean = values.length ? String(d3.mean(values)) : "";
}
