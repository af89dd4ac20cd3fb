import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The page imports the engine, models and preprocessing straight from the TypeScript sources one
// folder up; `base: './'` makes the built files work from any folder or static host.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  build: {
    outDir: fileURLToPath(new URL('../dist-web', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
  },
  server: { host: '127.0.0.1', port: 5173 },
  preview: { host: '127.0.0.1', port: 4173 },
});
