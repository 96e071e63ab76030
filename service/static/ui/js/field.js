// The learned vector field f(t, z) at one t on a plane of two state dimensions (one /vector_field
// answer), drawn as arrows: direction as given, length growing with the speed (square root, so slow
// regions stay visible), colour darker where faster.
import d3 from "./d3.js";

export function drawField(plane, field) {
  const ctx = plane.canvas.getContext("2d");
  ctx.clearRect(0, 0, plane.size, plane.size);
  ctx.fillStyle = "#fbfbfd";
  ctx.fillRect(0, 0, plane.size, plane.size);
  const speeds = field.u.map((row, j) => row.map((u, i) => Math.hypot(u, field.v[j][i])));
  const fastest = d3.max(speeds.flat()) || 1;
  const cell = plane.size / Math.max(field.xs.length, field.ys.length);
  const [[x0, x1], [y0, y1]] = plane.bounds;
  const kx = plane.size / (x1 - x0);
  const ky = plane.size / (y1 - y0);
  field.ys.forEach((y, j) => {
    field.xs.forEach((x, i) => {
      const speed = speeds[j][i];
      if (speed === 0) return;
      const du = field.u[j][i] * kx;
      const dv = -field.v[j][i] * ky;
      const norm = Math.hypot(du, dv);
      const length = 0.9 * cell * Math.sqrt(speed / fastest);
      const [px, py] = plane.toPixel([x, y]);
      arrow(ctx, px, py, (du / norm) * length, (dv / norm) * length, d3.interpolateBlues(0.45 + 0.55 * (speed / fastest)));
    });
  });
  plane.canvas.dataset.drawn = "field";
}

function arrow(ctx, px, py, dx, dy, colour) {
  const head = Math.min(4, 0.4 * Math.hypot(dx, dy));
  const angle = Math.atan2(dy, dx);
  ctx.strokeStyle = colour;
  ctx.fillStyle = colour;
  ctx.lineWidth = 1.2;
  ctx.beginPath();
  ctx.moveTo(px - dx / 2, py - dy / 2);
  ctx.lineTo(px + dx / 2, py + dy / 2);
  ctx.stroke();
  ctx.beginPath();
  ctx.moveTo(px + dx / 2, py + dy / 2);
  ctx.lineTo(px + dx / 2 - head * Math.cos(angle - 0.45), py + dy / 2 - head * Math.sin(angle - 0.45));
  ctx.lineTo(px + dx / 2 - head * Math.cos(angle + 0.45), py + dy / 2 - head * Math.sin(angle + 0.45));
  ctx.closePath();
  ctx.fill();
}
