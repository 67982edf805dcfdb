// The layering of Salita, checked by `npm run lint:deps` (part of `npm test`). Each rule is one sentence of
// docs/architecture.md "Layers"; a violation fails the test command. Type-only imports count too: a type that
// drags a Node-only module into shared code is still a dependency of it.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'core-not-electron',
      comment: 'The node runs headless and in tests: only the thin shell (src/main/index.ts) and the preload import electron.',
      severity: 'error',
      from: { path: '^src/(main/core|server|cloud|shared|renderer)/' },
      to: { path: '^electron$|node_modules/electron/' },
    },
    {
      name: 'core-not-cloud',
      comment: 'The node and the reference cloud are two servers: what both need lives in src/server or src/shared.',
      severity: 'error',
      from: { path: '^src/main/' },
      to: { path: '^src/cloud/' },
    },
    {
      name: 'cloud-not-node',
      comment: 'The cloud ships on its own (npm run build:cloud): it must not pull in the node.',
      severity: 'error',
      from: { path: '^src/cloud/' },
      to: { path: '^src/(main|preload|renderer)/' },
    },
    {
      name: 'servers-not-ui',
      comment: 'Servers never import UI code (the node serves the built renderer as files).',
      severity: 'error',
      from: { path: '^src/(main|server|cloud)/' },
      to: { path: '^src/(renderer|preload)/' },
    },
    {
      name: 'server-owns-nothing',
      comment: 'src/server is shared by both servers and owned by neither.',
      severity: 'error',
      from: { path: '^src/server/' },
      to: { path: '^src/(main|cloud|renderer|preload)/' },
    },
    {
      name: 'shared-stays-shared',
      comment: 'src/shared is used by every side (browser, node, cloud): it imports nothing outside itself but packages.',
      severity: 'error',
      from: { path: '^src/shared/' },
      to: { path: '^src/(?!shared/)' },
    },
    {
      name: 'browser-code-no-node',
      comment: 'The renderer runs in a browser and shared code runs there too: no Node built-ins, no Node-only packages.',
      severity: 'error',
      from: { path: '^src/(renderer|shared)/' },
      to: {
        dependencyTypes: ['core'],
      },
    },
    {
      name: 'browser-code-no-node-packages',
      comment: 'Node-only packages, by name (native modules, servers, files).',
      severity: 'error',
      from: { path: '^src/(renderer|shared)/' },
      to: {
        path: 'node_modules/(better-sqlite3|drizzle-orm|ws|pino|prom-client|bonjour-service|@homebridge/ciao|@hono/node-server|env-paths)/',
      },
    },
    {
      name: 'renderer-not-servers',
      comment: 'The UI talks to the node over HTTP/WS only.',
      severity: 'error',
      from: { path: '^src/(renderer|preload)/' },
      to: { path: '^src/(main|server|cloud)/' },
    },
    {
      name: 'no-circular',
      comment: 'A cycle makes start order and seams unclear.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.tsx', '.js', '.mjs', '.cjs', '.json'],
    },
  },
};
