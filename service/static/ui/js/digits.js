// A drawing pad of the model's image size (8x8 for digits, 30 pixels a cell). Values run from 0
// (blank) to 1 (full ink) in steps of 1/16, as scikit-learn's digits are scaled for training; Predict
// sends exactly what the textarea below the pad shows.
import { postJson } from "./api.js";
import { byId, setText } from "./dom.js";
import { ResultPanel } from "./result.js";
import { showCurl } from "./solver.js";
import { track } from "./status.js";

const PAD_PIXELS = 240;
const LEVELS = 16;
const TIME_POINTS = 40;

export class DigitsView {
  constructor(ctx) {
    this.ctx = ctx;
    this.shape = ctx.manifest.input.shape;
    [this.rows, this.cols] = this.shape.slice(-2);
    this.cell = Math.max(4, Math.floor(PAD_PIXELS / Math.max(this.rows, this.cols)));
    this.values = new Array(this.rows * this.cols).fill(0);
    this.canvas = document.createElement("canvas");
    Object.assign(this.canvas, { id: "pad", width: this.cols * this.cell, height: this.rows * this.cell });
    this.canvas.setAttribute("aria-label", `drawing pad, ${this.rows} by ${this.cols} cells`);
    byId("pad-host").replaceChildren(this.canvas);
    setText("pad-hint", `Draw with the mouse, a pen or a finger: ${this.rows}x${this.cols} cells, ink from 0 to 1.`);
    this.result = new ResultPanel(byId("digits-result"), ctx.manifest.classes, {
      title: "Prediction",
      hint: "Draw on the pad, then Predict: the class, its probabilities along t and the NFE of the drawn input.",
    });
    this.result.clear();
    byId("points").hidden = byId("clear-points").hidden = true;
    byId("predict").addEventListener("click", () => track(this.predict()));
    byId("clear-pad").addEventListener("click", () => this.setValues(this.values.map(() => 0)));
    this.pointer();
    this.render();
  }

  async start() {}

  async rerun() {
    if (this.answered) await this.predict();
  }

  pointer() {
    let last = null;
    const at = (event) => {
      const rect = this.canvas.getBoundingClientRect();
      return [((event.clientX - rect.left) / rect.width) * this.cols, ((event.clientY - rect.top) / rect.height) * this.rows];
    };
    this.canvas.addEventListener("pointerdown", (event) => {
      this.canvas.setPointerCapture(event.pointerId);
      last = at(event);
      this.ink(last);
    });
    this.canvas.addEventListener("pointermove", (event) => {
      if (last === null) return;
      const next = at(event);
      const steps = Math.ceil(Math.hypot(next[0] - last[0], next[1] - last[1]) / 0.25);
      for (let s = 1; s <= steps; s++) this.ink(last.map((v, d) => v + ((next[d] - v) * s) / steps));
      last = next;
    });
    const stop = () => {
      last = null;
    };
    this.canvas.addEventListener("pointerup", stop);
    this.canvas.addEventListener("pointercancel", stop);
  }

  // A soft round brush about two cells wide: full ink at its centre, fading over the next cell.
  ink([x, y]) {
    const values = [...this.values];
    for (let r = Math.floor(y - 2); r <= Math.floor(y + 2); r++) {
      for (let c = Math.floor(x - 2); c <= Math.floor(x + 2); c++) {
        if (r < 0 || c < 0 || r >= this.rows || c >= this.cols) continue;
        const d = Math.hypot(c + 0.5 - x, r + 0.5 - y);
        const amount = level(Math.min(1, Math.max(0, (1.5 - d) / 0.9)));
        values[r * this.cols + c] = Math.max(values[r * this.cols + c], amount);
      }
    }
    this.setValues(values);
  }

  setValues(values) {
    this.values = values;
    byId("pad-values").value = JSON.stringify(this.input());
    this.render();
  }

  // The pad as one sample nested in the model's input shape ([1, 8, 8] for digits).
  input() {
    return nest(this.values, this.shape);
  }

  render() {
    const ctx = this.canvas.getContext("2d");
    this.values.forEach((v, k) => {
      const shade = Math.round(255 * (1 - v));
      ctx.fillStyle = `rgb(${shade},${shade},${shade})`;
      ctx.fillRect((k % this.cols) * this.cell, Math.floor(k / this.cols) * this.cell, this.cell, this.cell);
    });
    ctx.strokeStyle = "rgba(120,130,150,0.35)";
    ctx.lineWidth = 1;
    for (let k = 0; k <= Math.max(this.rows, this.cols); k++) {
      ctx.beginPath();
      ctx.moveTo(k * this.cell + 0.5, 0);
      ctx.lineTo(k * this.cell + 0.5, this.rows * this.cell);
      ctx.moveTo(0, k * this.cell + 0.5);
      ctx.lineTo(this.cols * this.cell, k * this.cell + 0.5);
      ctx.stroke();
    }
  }

  async predict() {
    const body = { inputs: [this.input()], solver: this.ctx.solver() };
    const [predict, trajectory] = await Promise.all([
      postJson(`${this.ctx.base}/predict`, body),
      postJson(`${this.ctx.base}/trajectory`, { ...body, num_points: TIME_POINTS }),
    ]);
    this.answered = true;
    this.result.show(body.inputs[0], "the pad", predict, trajectory);
    showCurl(`${this.ctx.modelPath}/versions/${predict.version}/predict`, body);
  }
}

function level(value) {
  return Math.round(Math.min(1, Math.max(0, value)) * LEVELS) / LEVELS;
}

function nest(flat, shape) {
  if (shape.length === 1) return flat.slice(0, shape[0]);
  const size = flat.length / shape[0];
  return Array.from({ length: shape[0] }, (_, i) => nest(flat.slice(i * size, (i + 1) * size), shape.slice(1)));
}
