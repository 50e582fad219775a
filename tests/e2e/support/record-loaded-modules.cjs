// Preloaded (`node --require`) into a Kordon process by a test: at exit it writes the CommonJS
// modules the process loaded (require.cache, which ESM imports of CommonJS fill too) to the file
// KORDON_TEST_LOADED_MODULES names, to tell what a process kept out of its memory.
const { writeFileSync } = require('node:fs');

const out = process.env.KORDON_TEST_LOADED_MODULES;
if (out) process.on('exit', () => writeFileSync(out, JSON.stringify(Object.keys(require.cache))));
