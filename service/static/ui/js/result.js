// The answer for one input: predicted class, probabilities and NFE (from /predict, so they are what
// the API answers), and the probabilities along t (from /trajectory) with a t slider and Play.
import { ProbabilityChart } from "./chart.js";
import { classColour } from "./colours.js";
import { byId, el, fixed, setText } from "./dom.js";

const PLAY_MS = 2400;

export class ResultPanel {
  constructor(host, classes, { title, hint, onTime = () => {} }) {
    const panel = byId("result-panel");
    host.append(panel);
    panel.hidden = false;
    setText("result-title", title);
    setText("result-hint", hint);
    this.classes = classes;
    this.onTime = onTime;
    this.chart = new ProbabilityChart(byId("chart-host"), classes);
    this.slider = byId("traj-t");
    this.slider.addEventListener("input", () => this.setIndex(Number(this.slider.value)));
    byId("play").addEventListener("click", () => this.play());
  }

  show(input, description, predict, trajectory) {
    const xy = byId("point-xy");
    xy.textContent = description;
    xy.dataset.point = JSON.stringify(input);
    setText("point-label", predict.predictions[0]);
    setText("point-nfe", String(predict.nfe[0]));
    const probabilities = predict.probabilities[0];
    const list = byId("point-probabilities");
    list.dataset.values = JSON.stringify(probabilities);
    list.replaceChildren(...probabilities.map((p, c) => bar(this.classes[c], c, p)));
    byId("chart-column").hidden = false;
    this.times = trajectory.times;
    this.chart.draw(trajectory.times, trajectory.probabilities.map((atT) => atT[0]));
    this.slider.max = String(trajectory.times.length - 1);
    this.setIndex(Math.min(Number(this.slider.value), trajectory.times.length - 1));
  }

  clear() {
    for (const id of ["point-xy", "point-label", "point-nfe"]) setText(id, "–");
    byId("point-probabilities").replaceChildren();
    byId("chart-column").hidden = true; // nothing to draw until an input is answered
  }

  index() {
    return Number(this.slider.value);
  }

  setIndex(index) {
    this.slider.value = String(index);
    if (this.times !== undefined) setText("traj-t-value", fixed(this.times[index], 3));
    this.chart.mark(index);
    this.onTime(index);
  }

  // Move the t marker from the start to the end of the interval (the trajectories follow it).
  play() {
    const last = Number(this.slider.max);
    const started = performance.now();
    const frame = (now) => {
      const index = Math.min(last, Math.round(((now - started) / PLAY_MS) * last));
      this.setIndex(index);
      if (index < last) requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
  }
}

function bar(name, c, p) {
  const fill = el("span", { class: "bar-fill" });
  fill.style.width = `${(100 * p).toFixed(1)}%`;
  fill.style.background = classColour(c);
  return el(
    "li",
    { "data-class": name },
    el("span", { class: "bar-name" }, name),
    el("span", { class: "bar-track" }, fill),
    el("span", { class: "bar-value" }, fixed(p)),
  );
}
