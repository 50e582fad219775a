// Preloaded (`node --require`) into a Kordon process by a test: writes every module the process
// loads to the file KORDON_TEST_LOADED_MODULES names, one a line, to tell what a process kept
// out of its memory. ES modules as they load (a loader hook, which runs on its own thread and
// appends the URL); CommonJS ones at exit (require.cache, which ESM imports of CommonJS fill too).
const { appendFileSync } = require('node:fs');
const { register } = require('node:module');

const out = process.env.KORDON_TEST_LOADED_MODULES;
if (out) {
  const hook = `import { appendFileSync } from 'node:fs';
export async function load(url, context, next) {
  appendFileSync(${JSON.stringify(out)}, url + '\\n');
  return next(url, context);
}`;
  register(`data:text/javascript,${encodeURIComponent(hook)}`);
  process.on('exit', () => appendFileSync(out, `${Object.keys(require.cache).join('\n')}\n`));
}
