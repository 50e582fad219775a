import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The proxy keys a start issued from its config file (`<data dir>/issued-proxy-keys`), by the
 * file name's `<email>--<key name>` part; none when that start issued none (a restart keeps
 * the first start's files).
 */
export function issuedProxyKeys(dataDir: string): Map<string, string> {
  const keys = new Map<string, string>();
  const issued = join(dataDir, 'issued-proxy-keys');
  let files: string[];
  try {
    files = readdirSync(issued);
  } catch {
    return keys;
  }
  for (const file of files) {
    const [, email, name] = file.replace(/\.key$/, '').split('--');
    keys.set(`${email}--${name}`, readFileSync(join(issued, file), 'utf8').trim());
  }
  return keys;
}
