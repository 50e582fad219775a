// node summarise-heap-profile.cjs <profile.json> [rows]: the bytes of a sampling heap profile
// (sample-live-heap.cjs) by allocating function and its two callers, largest first, each row
// "allocating < its caller < that one's caller".
const fs = require('node:fs');

const profile = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const rows = Number(process.argv[3] ?? 25);
const bytes = {};
let total = 0;
const frameName = ({ functionName, url, lineNumber }) =>
  `${functionName || '(anonymous)'} ${url.replace(/^.*\/(dist|node_modules)\//, '')}:${lineNumber + 1}`;
const walk = (node, stack) => {
  const here = [...stack, frameName(node.callFrame)];
  total += node.selfSize;
  if (node.selfSize > 0) {
    const site = here.slice(-3).reverse().join(' < ');
    bytes[site] = (bytes[site] ?? 0) + node.selfSize;
  }
  for (const child of node.children) walk(child, here);
};
walk(profile.head, []);
console.log(`${(total / 1024).toFixed(0)} KB in all`);
for (const [site, size] of Object.entries(bytes)
  .sort((a, b) => b[1] - a[1])
  .slice(0, rows))
  console.log(`${(size / 1024).toFixed(0).padStart(8)} KB  ${site}`);
