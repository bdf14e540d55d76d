// The web console's build, for the coordinator that serves it: where the production build lives, whether it is up
// to date with its sources, and a programmatic Vite build (`npm start` builds it when needed; so do the tests).
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** packages/console */
export const consoleRoot = fileURLToPath(new URL('..', import.meta.url));
/** The production build served by the coordinator. */
export const consoleDist = path.join(consoleRoot, 'dist');

const SOURCES = ['index.html', 'vite.config.ts', 'web'];

function newestMtime(p: string): number {
  if (!existsSync(p)) return 0;
  const st = statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const name of readdirSync(p)) newest = Math.max(newest, newestMtime(path.join(p, name)));
  return newest;
}

/** True when the sources are present (a source checkout, not a trimmed install). */
export function consoleSourcesPresent(): boolean {
  return existsSync(path.join(consoleRoot, 'index.html')) && existsSync(path.join(consoleRoot, 'web'));
}

/** True when dist/index.html exists and is newer than every source file. */
export function consoleBuilt(): boolean {
  const index = path.join(consoleDist, 'index.html');
  if (!existsSync(index)) return false;
  if (!consoleSourcesPresent()) return true;
  const built = statSync(index).mtimeMs;
  return SOURCES.every((s) => newestMtime(path.join(consoleRoot, s)) <= built);
}

/** Builds the console with Vite into dist/ (a few seconds). */
export async function buildConsole(): Promise<void> {
  const { build } = await import('vite');
  await build({ root: consoleRoot, configFile: path.join(consoleRoot, 'vite.config.ts'), logLevel: 'warn' });
}

/** Builds the console unless the build is up to date. Returns what it did. */
export async function ensureConsoleBuilt(): Promise<'up-to-date' | 'built' | 'no-sources'> {
  if (consoleBuilt()) return 'up-to-date';
  if (!consoleSourcesPresent()) return 'no-sources';
  await buildConsole();
  return 'built';
}
