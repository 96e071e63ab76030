// Class probabilities along t as a small line chart (one line per class), with a rule at the chosen t.
import { classColour } from "./colours.js";
import d3 from "./d3.js";

const WIDTH = 380;
const HEIGHT = 190;
const M = { top: 8, right: 70, bottom: 30, left: 40 };

export class ProbabilityChart {
  constructor(host, classes) {
    this.classes = classes;
    this.x = d3.scaleLinear().range([M.left, WIDTH - M.right]);
    this.y = d3.scaleLinear().domain([0, 1]).range([HEIGHT - M.bottom, M.top]);
    this.svg = d3.create("svg").attr("id", "prob-chart").attr("width", WIDTH).attr("height", HEIGHT);
    this.svg.attr("role", "img").attr("aria-label", "class probabilities along t");
    this.xAxis = this.svg.append("g").attr("class", "axis").attr("transform", `translate(0,${HEIGHT - M.bottom})`);
    this.svg.append("g").attr("class", "axis").attr("transform", `translate(${M.left},0)`).call(d3.axisLeft(this.y).ticks(5));
    this.svg.append("text").attr("class", "axis-title").attr("x", (M.left + WIDTH - M.right) / 2).attr("y", HEIGHT - 2).text("t");
    this.lines = this.svg.append("g");
    this.rule = this.svg.append("line").attr("class", "rule").attr("y1", M.top).attr("y2", HEIGHT - M.bottom);
    host.replaceChildren(this.svg.node());
  }

  draw(times, probabilities) {
    this.times = times;
    this.x.domain(d3.extent(times));
    this.xAxis.call(d3.axisBottom(this.x).ticks(5));
    const series = this.classes.map((name, c) => ({ name, c, values: probabilities.map((p) => p[c]) }));
    const line = d3
      .line()
      .x((_, n) => this.x(times[n]))
      .y((p) => this.y(p));
    this.lines
      .selectAll("g")
      .data(series)
      .join((enter) => {
        const g = enter.append("g");
        g.append("path").attr("class", "series").attr("fill", "none").attr("stroke-width", 2);
        g.append("text").attr("class", "series-label").attr("dx", 4).attr("dy", "0.35em");
        return g;
      })
      .call((g) => g.select("path").attr("stroke", (d) => classColour(d.c)).attr("d", (d) => line(d.values)))
      .call((g) =>
        g
          .select("text")
          .attr("x", this.x(times[times.length - 1]))
          .attr("y", (d) => this.y(d.values[d.values.length - 1]))
          .attr("fill", (d) => classColour(d.c))
          .text((d) => (this.classes.length <= 4 || d.values[d.values.length - 1] > 0.05 ? d.name : "")),
      );
  }

  mark(index) {
    if (this.times === undefined) return;
    const x = this.x(this.times[Math.min(index, this.times.length - 1)]);
    this.rule.attr("x1", x).attr("x2", x);
  }
}
