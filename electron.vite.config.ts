// The node's build. main/ holds two entries: the Electron shell (index) and the headless node (headless), which
// share the core; the renderer builds the desktop UI and the phone pairing page. The reference cloud is not
// here: it is a plain Node server, built alone by `npm run build:cloud` (scripts/build-cloud.mjs).
import { resolve } from 'node:path';
import { defineConfig } from 'electron-vite';

export default defineConfig({
  main: {
    build: {
      // Keep dependencies (better-sqlite3 is native) as runtime imports instead of bundling them.
      externalizeDeps: true,
      rollupOptions: {
        input: {
          index: resolve(__dirname, 'src/main/index.ts'),
          headless: resolve(__dirname, 'src/main/headless.ts'),
        },
      },
    },
  },
  preload: {
    build: {
      // Sandboxed preloads cannot load ES modules or node_modules: bundle everything into one CommonJS file
      // (out/preload/index.cjs; the package is "type": "module", so the extension says CJS).
      externalizeDeps: false,
      rolldownOptions: {
        input: { index: resolve(__dirname, 'src/preload/index.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs', chunkFileNames: 'chunks/[name]-[hash].cjs' },
      },
    },
  },
  renderer: {
    root: resolve(__dirname, 'src/renderer'),
    // The pages are preact components written in TSX (the automatic runtime: no `h` import in each file).
    oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
    build: {
      // The phone downloads these over its Wi-Fi: minified, the page with files is smaller than it was without.
      minify: true,
      rollupOptions: {
        input: {
          index: resolve(__dirname, 'src/renderer/index.html'),
          phone: resolve(__dirname, 'src/renderer/phone.html'),
        },
      },
    },
  },
});
