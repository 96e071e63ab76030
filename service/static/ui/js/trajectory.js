// Clicked points' trajectories z(t) drawn on a plane of two state dimensions: the path, its start,
// its number, and a marker at the chosen time index (moved by the t slider or the Play button).
import d3 from "./d3.js";

export function drawPaths(plane, points, dims, selected, index) {
  const drawn = points.filter((p) => p.trajectory !== undefined);
  const at = (p, n) => plane.toPixel(dims.map((d) => p.trajectory.states[n][0][d]));
  const line = d3.line();
  plane
    .layer("paths")
    .selectAll("path")
    .data(drawn, (p) => p.n)
    .join("path")
    .attr("class", (p) => (p === selected ? "path selected" : "path"))
    .attr("d", (p) => line(p.trajectory.states.map((_, n) => at(p, n))));
  plane
    .layer("starts")
    .selectAll("g")
    .data(drawn, (p) => p.n)
    .join((enter) => {
      const g = enter.append("g").attr("class", "start");
      g.append("circle").attr("r", 3.5);
      g.append("text").attr("dx", 6).attr("dy", -5);
      return g;
    })
    .attr("transform", (p) => `translate(${at(p, 0)})`)
    .call((g) => g.select("text").text((p) => p.n));
  plane
    .layer("markers")
    .selectAll("circle")
    .data(drawn, (p) => p.n)
    .join("circle")
    .attr("class", (p) => (p === selected ? "marker selected" : "marker"))
    .attr("r", 5)
    .attr("transform", (p) => `translate(${at(p, Math.min(index, p.trajectory.states.length - 1))})`);
}

// Every state the points visit on the plane's dims (to fit the plane's box around them).
export function visited(points, dims) {
  return points.flatMap((p) => (p.trajectory ? p.trajectory.states.map((s) => dims.map((d) => s[0][d])) : []));
}
