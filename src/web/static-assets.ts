/**
 * The page's files: plain HTML, CSS and ES modules from `src/web/assets/`, no build step.
 * `npm run build` copies them to `dist/src/web/assets/` (so a deployed dist/ is complete);
 * running from the sources they sit beside this module. They are read once at start into
 * memory and served by exact name only — a request can never name a path.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Asset {
  body: Buffer;
  type: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** Beside this module (sources, or dist after the build's copy), else the sources from dist. */
const CANDIDATES = [
  new URL('./assets/', import.meta.url),
  new URL('../../../src/web/assets/', import.meta.url),
];

export function assetDirectory(): string {
  for (const candidate of CANDIDATES) {
    const dir = fileURLToPath(candidate);
    if (existsSync(`${dir}index.html`)) return dir;
  }
  throw new Error(
    `web page assets not found (looked in ${CANDIDATES.map((c) => fileURLToPath(c)).join(', ')}); run npm run build`,
  );
}

/** Every servable file of the asset directory, by name. */
export function loadAssets(dir = assetDirectory()): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)];
    if (type === undefined || !/^[a-z0-9][a-z0-9.-]*$/.test(name)) continue;
    assets.set(name, { body: readFileSync(`${dir}${name}`), type });
  }
  return assets;
}
