// A second reporter for `npm test`: writes each failed test (file, name path, error) to its
// destination, so scripts/test.mjs can print them again after the run. CI keeps only the tail
// of a long TAP stream, and a failure thousands of lines up would otherwise go unseen.
import { relative } from 'node:path';

function errorText(error) {
  if (!error) return '';
  // The runner wraps a test's own error in `cause` (ERR_TEST_FAILURE); show the one thrown.
  const thrown = error.code === 'ERR_TEST_FAILURE' && error.cause ? error.cause : error;
  const text = thrown instanceof Error ? (thrown.stack ?? thrown.message) : String(thrown);
  return text.split('\n').slice(0, 30).join('\n');
}

export default async function* failuresReporter(source) {
  // Files run two at a time, so their events may interleave: keep each file's open names apart.
  const openNamesByFile = new Map();
  const openNames = (file) => {
    if (!openNamesByFile.has(file)) openNamesByFile.set(file, []);
    return openNamesByFile.get(file);
  };
  for await (const event of source) {
    if (event.type === 'test:start') {
      const names = openNames(event.data.file);
      names[event.data.nesting] = event.data.name;
      names.length = event.data.nesting + 1;
    } else if (event.type === 'test:fail') {
      const { data } = event;
      // A suite fails when a test in it does; report only the tests themselves.
      if (data.details?.type === 'suite') continue;
      const path = [...openNames(data.file).slice(0, data.nesting), data.name].join(' > ');
      const file = data.file ? relative(process.cwd(), data.file) : '(no file)';
      yield `not ok: ${file}\n  ${path}\n${errorText(data.details?.error).replace(/^/gm, '    ')}\n\n`;
    }
  }
}
