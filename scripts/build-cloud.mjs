// `npm run build:cloud`: the reference cloud as one standalone folder, out/cloud/, that runs with plain `node`
// and no checkout around it:
//   server.mjs         src/cloud/main.ts with every JS dependency bundled in (esbuild)
//   migrations-cloud/  the cloud's migrations (src/cloud/db/open.ts looks next to the bundle first)
//   migrations-cloud-pg/  the same on PostgreSQL (src/cloud/db/postgres.ts)
//   assets/            @simplewebauthn/browser's bundle for the passkey login page
//   package.json       the only production dependency left: better-sqlite3, native, so it is installed, not bundled
// Install it anywhere with `npm install --omit=dev` in that folder (docs/cloud.md, "Deploy").

import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'out', 'cloud');
/** Native addons cannot be bundled: they stay runtime imports and are the folder's dependencies. */
const NATIVE = ['better-sqlite3'];

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

await build({
  entryPoints: [join(root, 'src/cloud/main.ts')],
  outfile: join(out, 'server.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // pg's optional native binding is never installed: its require stays a runtime one that pg catches.
  external: [...NATIVE, 'pg-native'],
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
  // The bundled CommonJS dependencies (pino, ws, ...) call require() for node: built-ins, which an ES module
  // does not have; give them one, and the __dirname/__filename some of them read.
  banner: {
    js: [
      "import { createRequire as __salitaCreateRequire } from 'node:module';",
      "import { fileURLToPath as __salitaFileURLToPath } from 'node:url';",
      "import { dirname as __salitaDirname } from 'node:path';",
      'const require = __salitaCreateRequire(import.meta.url);',
      'const __filename = __salitaFileURLToPath(import.meta.url);',
      'const __dirname = __salitaDirname(__filename);',
    ].join('\n'),
  },
});

cpSync(join(root, 'migrations-cloud'), join(out, 'migrations-cloud'), { recursive: true });
cpSync(join(root, 'migrations-cloud-pg'), join(out, 'migrations-cloud-pg'), { recursive: true });
// The passkey page's browser library, served by the cloud itself (src/cloud/external-login-page.ts).
mkdirSync(join(out, 'assets'), { recursive: true });
cpSync(
  join(root, 'node_modules', '@simplewebauthn', 'browser', 'dist', 'bundle', 'index.umd.min.js'),
  join(out, 'assets', 'simplewebauthn-browser.umd.min.js'),
);

const dependencies = Object.fromEntries(
  NATIVE.map((name) => {
    const range = pkg.dependencies?.[name];
    if (!range) throw new Error(`${name} is bundled as external but is not a dependency in package.json`);
    return [name, range];
  }),
);
writeFileSync(
  join(out, 'package.json'),
  `${JSON.stringify(
    {
      name: 'salita-cloud',
      version: pkg.version,
      private: true,
      type: 'module',
      description: 'The Salita reference cloud, standalone (built by `npm run build:cloud`)',
      engines: pkg.engines,
      bin: { 'salita-cloud': 'server.mjs' },
      scripts: { start: 'node server.mjs serve' },
      dependencies,
    },
    null,
    2,
  )}\n`,
);
console.log(
  `cloud bundle: ${join('out', 'cloud', 'server.mjs')} (+ migrations-cloud/, package.json: ${Object.keys(dependencies).join(', ')})`,
);
