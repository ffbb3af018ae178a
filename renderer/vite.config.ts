// Builds the renderer (the React app) into renderer/dist. `base: './'` keeps every asset URL
// relative, so the same build loads from `grove serve` (http://…/) and from file:// in Electron.
import { defineConfig, type Plugin } from 'vite'
import react from '@vitejs/plugin-react'
// No node:* imports here (renderer/ is lint-checked as browser code); Vite supplies dirname.
const root = import.meta.dirname

/** The dev server injects inline scripts (React refresh), which the production CSP forbids. */
function relaxCspInDev(): Plugin {
  return {
    name: 'grove-relax-csp-in-dev',
    apply: 'serve',
    transformIndexHtml: (html) => html.replace(/<meta http-equiv="Content-Security-Policy"[^>]*>\s*/, '')
  }
}

export default defineConfig({
  root,
  base: './',
  plugins: [react(), relaxCspInDev()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    chunkSizeWarningLimit: 1500
  },
  server: {
    // `npm run dev:renderer` against a running `grove serve` on :4750 (development only).
    proxy: { '/api': { target: 'http://127.0.0.1:4750', ws: true } }
  }
})
