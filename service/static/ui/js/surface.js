// The decision surface: class probabilities over the input plane (one /grid answer), with the data
// the model was trained on drawn on top.
import { classColour, classRgbs, mixColour } from "./colours.js";
import { el } from "./dom.js";

export function drawSurface(plane, grid) {
  const rgbs = classRgbs(grid.classes.length);
  plane.paintGrid(grid.xs, grid.ys, (i, j) => mixColour(grid.probabilities[j][i], rgbs), { smooth: true });
  plane.canvas.dataset.drawn = "surface";
}

// Labels may come as class indices or as class names; either way, a class index.
function classIndex(label, classes) {
  return typeof label === "number" ? label : classes.indexOf(String(label));
}

export function drawData(plane, dataset, classes) {
  const points = dataset.features.map((f, n) => ({ f, c: classIndex(dataset.labels[n], classes) }));
  plane
    .layer("data")
    .selectAll("circle")
    .data(points)
    .join("circle")
    .attr("cx", (d) => plane.x(d.f[0]))
    .attr("cy", (d) => plane.y(d.f[1]))
    .attr("r", 2.6)
    .attr("fill", (d) => classColour(d.c))
    .attr("stroke", "white")
    .attr("stroke-width", 0.8);
}

export function classLegend(host, classes) {
  host.replaceChildren(
    ...classes.map((name, i) => {
      const swatch = el("span", { class: "swatch" });
      swatch.style.background = classColour(i);
      return el("span", { class: "legend-item" }, swatch, `class ${name}`);
    }),
  );
}
