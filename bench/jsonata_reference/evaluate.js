// Evaluates each case of cases.json with jsonata-js (the reference implementation) and
// prints one JSON result per case: {"value": v}, {"undefined": true} or {"error": code}.
// Usage: NODE_PATH=<dir with node_modules> node evaluate.js cases.json
const fs = require("fs");
const jsonata = require("jsonata");

async function main() {
  const cases = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  const results = [];
  for (const c of cases) {
    try {
      const value = await jsonata(c.expr).evaluate(undefined, { states: { input: c.input ?? {} } });
      results.push(value === undefined ? { undefined: true } : { value: JSON.parse(JSON.stringify(value)) });
    } catch (e) {
      results.push({ error: e.code || String(e) });
    }
  }
  process.stdout.write(JSON.stringify(results, null, 1));
}
main();
