// Print the gzipped size of everything in dist/ (what a browser downloads on first load), and
// fail above the budget. 130 KiB: the app was 91 KiB before sign-in; amazon-cognito-identity-js
// (SRP maths, a Buffer polyfill, SHA-256) adds about 29 KiB, and the rest is headroom.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { gzipSync } from "node:zlib";

const BUDGET_GZIP_KIB = 130;
const root = new URL("../dist/", import.meta.url).pathname;
const files = [];
const walk = (dir) => {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else files.push(path);
  }
};
walk(root);
let raw = 0;
let gz = 0;
for (const file of files.sort()) {
  const data = readFileSync(file);
  const z = gzipSync(data, { level: 9 }).length;
  raw += data.length;
  gz += z;
  console.log(`${relative(root, file).padEnd(36)} ${(data.length / 1024).toFixed(1).padStart(8)} KiB  gzip ${(z / 1024).toFixed(1).padStart(7)} KiB`);
}
console.log(`${"total".padEnd(36)} ${(raw / 1024).toFixed(1).padStart(8)} KiB  gzip ${(gz / 1024).toFixed(1).padStart(7)} KiB`);
if (gz / 1024 > BUDGET_GZIP_KIB) {
  console.error(`over budget: ${(gz / 1024).toFixed(1)} KiB gzip > ${BUDGET_GZIP_KIB} KiB`);
  process.exit(1);
}
