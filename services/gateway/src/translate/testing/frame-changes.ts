import fc from 'fast-check';

/** One change to a frame's text: a character dropped, added or replaced at a position. */
export interface FrameChange {
  readonly at: number;
  readonly kind: 'drop' | 'add' | 'replace';
  readonly char: string;
}

/** One to three changes, each with one of `chars` (JSON's structural characters and near misses). */
export function frameChanges(chars: readonly string[]): fc.Arbitrary<FrameChange[]> {
  const change = fc.record({
    at: fc.nat(),
    kind: fc.constantFrom('drop' as const, 'add' as const, 'replace' as const),
    char: fc.constantFrom(...chars),
  });
  return fc.array(change, { minLength: 1, maxLength: 3 });
}

/** `frame` with the changes applied in order (positions wrap around its length). */
export function applyChanges(frame: string, changes: readonly FrameChange[]): string {
  let text = frame;
  for (const { at, kind, char } of changes) {
    const i = at % (text.length + 1);
    text =
      kind === 'drop'
        ? text.slice(0, i) + text.slice(i + 1)
        : kind === 'add'
          ? text.slice(0, i) + char + text.slice(i)
          : text.slice(0, i) + char + text.slice(i + 1);
  }
  return text;
}
