/** The numeric options of the bench scripts (`--requests 200000`), with their defaults. */
const args = process.argv.slice(2);

export function argNumber(name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
}
