// Models whose inputs are neither points of a plane nor small images: the model card above and a
// JSON form that posts to predict and shows the answer as it came.
import { postJson } from "./api.js";
import { byId, setText } from "./dom.js";
import { showCurl } from "./solver.js";
import { track } from "./status.js";

export class FormView {
  constructor(ctx) {
    this.ctx = ctx;
    const shape = ctx.manifest.input.shape;
    setText("inputs-json-label", `inputs (JSON): a list of samples, each nested as [${shape.join(", ")}] or flat`);
    byId("inputs-json").value = JSON.stringify([zeros(shape)]);
    byId("predict-json").addEventListener("click", () => track(this.predict()));
  }

  async start() {}

  async rerun() {
    if (this.answered) await this.predict();
  }

  async predict() {
    let inputs;
    try {
      inputs = JSON.parse(byId("inputs-json").value);
    } catch (error) {
      throw new Error(`inputs: not valid JSON (${error.message})`);
    }
    const body = { inputs, solver: this.ctx.solver() };
    const answer = await postJson(`${this.ctx.base}/predict`, body);
    this.answered = true;
    byId("answer").textContent = JSON.stringify(answer, null, 2);
    showCurl(`${this.ctx.modelPath}/versions/${answer.version}/predict`, body);
  }
}

function zeros(shape) {
  return shape.length === 1 ? new Array(shape[0]).fill(0) : Array.from({ length: shape[0] }, () => zeros(shape.slice(1)));
}
