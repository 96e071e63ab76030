// The vendored d3 as a module: the page loads it first as a classic script (it sets globalThis.d3).
const d3 = globalThis.d3;
if (d3 === undefined) throw new Error("d3 did not load (/ui/static/vendor/d3@7.9.0/d3.min.js)");
export default d3;
