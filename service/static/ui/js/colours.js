// One colour per class (d3's Tableau 10, in the model's class order) wherever classes appear.
import d3 from "./d3.js";

export function classColour(index) {
  return d3.schemeTableau10[index % d3.schemeTableau10.length];
}

export function classRgbs(count) {
  return Array.from({ length: count }, (_, i) => {
    const c = d3.rgb(classColour(i));
    return [c.r, c.g, c.b];
  });
}

// Class probabilities as one colour: the classes' colours mixed by probability, washed towards
// white where the model is unsure (top probability near 1/k), so the decision boundary is a pale band.
export function mixColour(probabilities, rgbs) {
  const k = probabilities.length;
  let top = 0;
  const mixed = [0, 0, 0];
  probabilities.forEach((p, i) => {
    top = Math.max(top, p);
    for (let c = 0; c < 3; c++) mixed[c] += p * rgbs[i][c];
  });
  const sure = Math.min(1, Math.max(0, (top - 1 / k) / (1 - 1 / k)));
  const strength = 0.25 + 0.75 * sure;
  return mixed.map((v) => Math.round(255 + (v - 255) * strength));
}

export function rgbOf(colour) {
  const c = d3.rgb(colour);
  return [c.r, c.g, c.b];
}
