// The explorer of a model with 2-D inputs: decision surface and NFE map (one /grid answer), the
// vector field at a chosen t (/vector_field), and clicked points' trajectories (/predict, /trajectory).
import { ApiError, getJson, postJson } from "./api.js";
import { byId, el, fixed, setText } from "./dom.js";
import { drawField } from "./field.js";
import { drawNfe } from "./nfe.js";
import { Plane, squareBox } from "./plane.js";
import { ResultPanel } from "./result.js";
import { showCurl } from "./solver.js";
import { say, track } from "./status.js";
import { classLegend, drawData, drawSurface } from "./surface.js";
import { drawPaths, visited } from "./trajectory.js";

const SIZE = 300; // canvas pixels per side
const GRID = 64; // /grid samples per axis (the server allows 2..128)
const ARROWS = 21; // /vector_field samples per axis (2..64)
const TIME_POINTS = 40;
const DATA_LIMIT = 400;
const FIELD_STEPS = 20;

export class PlaneView {
  constructor(ctx) {
    this.ctx = ctx;
    const m = ctx.manifest;
    this.points = [];
    this.selected = null;
    this.generation = 0;
    this.inputDims = m.state_dim - m.augment_dim;
    this.onInputPlane = this.inputDims === 2; // z(0) is the input itself (no encoder): paths fit the surface
    const [xName, yName] = m.input.feature_names ?? ["x1", "x2"];
    this.surface = new Plane(byId("surface-host"), { id: "surface", size: SIZE, xLabel: xName, yLabel: yName });
    this.nfe = new Plane(byId("nfe-host"), { id: "nfe-map", size: SIZE, xLabel: xName, yLabel: yName });
    this.field = new Plane(byId("field-host"), { id: "field", size: SIZE });
    for (const plane of [this.surface, this.nfe]) plane.onClick((p) => track(this.addPoint(p)));
    this.result = new ResultPanel(byId("plane-view"), m.classes, {
      title: "Clicked points",
      hint: "Click the decision surface or the NFE map to follow a point: its path z(t), drawn on both planes, its class probabilities along t and its NFE.",
      onTime: () => this.drawPaths(),
    });
    this.result.clear();
    byId("clear-points").addEventListener("click", () => this.clearPoints());
    classLegend(byId("surface-legend"), m.classes);
    this.fieldControls(m);
  }

  async start() {
    const dataset = await this.dataset();
    this.bounds = squareBox(dataset ? dataset.features : []);
    this.surface.setBounds(this.bounds);
    this.nfe.setBounds(this.bounds);
    if (dataset) drawData(this.surface, dataset, this.ctx.manifest.classes);
    await Promise.all([this.drawGrid(this.generation), this.drawField()]);
  }

  // Apply: a new solver redraws what depends on it (the grid and every clicked point).
  async rerun() {
    const gen = ++this.generation;
    const solver = this.ctx.solver();
    await Promise.all([this.drawGrid(gen, solver), ...this.points.map((p) => this.solve(p, gen, solver))]);
    this.refresh();
  }

  async dataset() {
    try {
      return await getJson(`${this.ctx.base}/dataset?split=train&limit=${DATA_LIMIT}`);
    } catch (error) {
      if (!(error instanceof ApiError) || error.status >= 500) throw error;
      say(`no data drawn: ${error.message}`);
      return null;
    }
  }

  async drawGrid(gen, solver = this.ctx.solver()) {
    const body = { bounds: this.bounds, resolution: [GRID, GRID], solver };
    const grid = await postJson(`${this.ctx.base}/grid`, body);
    if (gen !== this.generation) return;
    drawSurface(this.surface, grid);
    drawNfe(this.nfe, grid, byId("nfe-legend"));
  }

  async addPoint([x, y]) {
    const point = { n: this.points.length + 1, input: [round(x), round(y)] };
    this.points.push(point);
    this.selected = point;
    await this.solve(point, this.generation, this.ctx.solver());
    this.refresh();
    await this.drawField();
  }

  async solve(point, gen, solver) {
    const body = { inputs: [point.input], solver };
    const [predict, trajectory] = await Promise.all([
      postJson(`${this.ctx.base}/predict`, body),
      postJson(`${this.ctx.base}/trajectory`, { ...body, num_points: TIME_POINTS }),
    ]);
    if (gen === this.generation) Object.assign(point, { body, predict, trajectory });
  }

  clearPoints() {
    this.points = [];
    this.selected = null;
    this.result.clear();
    this.refresh();
    track(this.drawField());
  }

  // Show the selected point's answer, list the points, redraw every path.
  refresh() {
    const p = this.selected;
    if (p?.predict) {
      this.result.show(p.input, `(${fixed(p.input[0], 4)}, ${fixed(p.input[1], 4)})`, p.predict, p.trajectory);
      showCurl(`${this.ctx.modelPath}/versions/${p.predict.version}/predict`, p.body);
    }
    byId("points").replaceChildren(...this.points.filter((q) => q.predict).map((q) => this.pointItem(q)));
    this.drawPaths();
  }

  pointItem(q) {
    const button = el(
      "button",
      { type: "button", class: q === this.selected ? "chip selected" : "chip", "aria-pressed": String(q === this.selected) },
      `${q.n}: (${fixed(q.input[0], 2)}, ${fixed(q.input[1], 2)}) → ${q.predict.predictions[0]}, NFE ${q.predict.nfe[0]}`,
    );
    button.addEventListener("click", () => {
      this.selected = q;
      this.refresh();
    });
    return el("li", { "data-n": q.n }, button);
  }

  drawPaths() {
    const index = this.result.index();
    if (this.onInputPlane) drawPaths(this.surface, this.points, [0, 1], this.selected, index);
    drawPaths(this.field, this.points, this.dims, this.selected, index);
  }

  fieldControls(m) {
    const [t0, t1] = m.interval;
    const slider = byId("field-t");
    Object.assign(slider, { min: String(t0), max: String(t1), step: String((t1 - t0) / FIELD_STEPS), value: String(t0) });
    let timer;
    slider.addEventListener("input", () => {
      setText("field-t-value", fixed(slider.value, 2));
      clearTimeout(timer);
      timer = setTimeout(() => track(this.drawField()), 120);
    });
    setText("field-t-value", fixed(t0, 2));
    const planes = [[0, 1], ...Array.from({ length: m.augment_dim }, (_, a) => [0, this.inputDims + a])];
    const select = byId("field-plane");
    select.replaceChildren(...planes.map((dims) => el("option", { value: dims.join(",") }, dims.map((d) => this.dimName(d)).join(" × "))));
    byId("field-plane-pair").hidden = planes.length < 2;
    select.addEventListener("change", () => track(this.drawField()));
  }

  get dims() {
    return byId("field-plane").value.split(",").map(Number);
  }

  dimName(d) {
    return d >= this.inputDims ? `z${d} (augmented)` : `z${d}`;
  }

  // The field's box: the data's box on input dimensions, as wide around 0 on the others, grown to
  // hold every clicked point's trajectory on this plane.
  fieldBounds(dims) {
    const half = (this.bounds[0][1] - this.bounds[0][0]) / 2;
    const base = dims.map((d) => (this.onInputPlane && d < 2 ? this.bounds[d] : [-half, half]));
    return squareBox([[base[0][0], base[1][0]], [base[0][1], base[1][1]], ...visited(this.points, dims)], 0.04);
  }

  async drawField() {
    const dims = this.dims;
    const t = Number(byId("field-t").value);
    const bounds = this.fieldBounds(dims);
    const body = { t, dims, bounds, resolution: [ARROWS, ARROWS], point: null };
    const asked = (this.fieldAsked = (this.fieldAsked ?? 0) + 1);
    const field = await postJson(`${this.ctx.base}/vector_field`, body);
    if (asked !== this.fieldAsked) return; // a later request (another t, plane or box) draws instead
    this.field.setLabels(this.dimName(dims[0]), this.dimName(dims[1]));
    this.field.setBounds(bounds);
    drawField(this.field, field);
    this.drawPaths();
  }
}

function round(value) {
  return Math.round(value * 1e4) / 1e4;
}
