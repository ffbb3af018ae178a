// Lint rules that hold the architecture in place (DESIGN.md, "Imports only point inward"):
// shared/ is pure TypeScript and renderer/ talks to main only through the API contract, so
// neither may import Node built-ins, Electron or anything under main/; inside main/, the core
// never reaches out to the shells built on it. And no module may import itself through others.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'
import importX, { createNodeResolver } from 'eslint-plugin-import-x'
import { builtinModules } from 'node:module'

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)]
const restrictedForPureCode = {
  paths: [
    ...nodeBuiltins.map((name) => ({ name, message: 'shared/ and renderer/ must not import Node built-ins.' })),
    { name: 'electron', message: 'shared/ and renderer/ must not import Electron.' }
  ],
  patterns: [
    { group: ['node:*'], message: 'shared/ and renderer/ must not import Node built-ins.' },
    { group: ['electron/*'], message: 'shared/ and renderer/ must not import Electron.' }
  ]
}

// Which folder may import which, checked on resolved paths (so `import type` counts too).
const layers = [
  { target: 'shared', from: ['main', 'renderer'], message: 'shared/ is imported by main/ and renderer/, never the other way.' },
  { target: 'renderer', from: 'main', message: 'renderer/ talks to main/ only through the API client.' },
  { target: 'main', from: 'renderer', message: 'main/ must not import renderer/.' },
  // Inside main/, from the bottom up: process, llama ← gguf ← core ← inference ← api ← service, server ← cli, electron.
  { target: ['main/process', 'main/llama'], from: ['main/gguf', 'main/core', 'main/inference', 'main/api', 'main/service', 'main/server', 'main/cli', 'main/electron'], message: 'main/process and main/llama are the bottom layer; they import no other part of main/.' },
  { target: 'main/gguf', from: ['main/core', 'main/inference', 'main/api', 'main/service', 'main/server', 'main/cli', 'main/electron'], message: 'main/gguf reads files; it must not import the core, inference or anything above them.' },
  { target: 'main/core', from: ['main/inference', 'main/api', 'main/service', 'main/server', 'main/cli', 'main/electron'], message: 'main/core is what inference, the API, server, CLI and Electron shell are built on; it must not import them.' },
  { target: 'main/inference', from: ['main/api', 'main/service', 'main/server', 'main/cli', 'main/electron'], message: 'main/inference is used by the API and its transports; it must not import them.' },
  { target: 'main/api', from: ['main/service', 'main/server', 'main/cli', 'main/electron'], message: 'main/api is carried by the control channel, server, CLI and Electron shell; it must not import them.' },
  { target: 'main/service', from: ['main/server', 'main/cli', 'main/electron'], message: 'main/service (the home\'s control channel) carries the API; it must not import the HTTP server, the CLI or the Electron shell.' },
  { target: 'main/server', from: ['main/cli', 'main/electron'], message: 'main/server is started by the CLI; it must not import the CLI or the Electron shell.' }
]

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'out/**', 'renderer/dist/**', 'test-results/**', 'playwright-report/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2023, sourceType: 'module' },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error'
    }
  },
  {
    files: ['eslint.config.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } }
  },
  {
    files: ['main/bin/**/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: { process: 'readonly', console: 'readonly' } }
  },
  {
    files: ['**/*.{ts,tsx}'],
    plugins: { 'import-x': importX },
    settings: {
      // Sources import each other as `./x.js` (what tsc emits); the file behind it is x.ts or x.tsx.
      'import-x/extensions': ['.ts', '.tsx', '.js', '.mjs', '.cjs'],
      'import-x/external-module-folders': ['node_modules', 'node_modules/@types'],
      'import-x/resolver-next': [
        createNodeResolver({
          extensions: ['.ts', '.tsx', '.d.ts', '.js', '.mjs', '.cjs', '.json', '.node'],
          extensionAlias: { '.js': ['.ts', '.tsx', '.d.ts', '.js'] },
          conditionNames: ['types', 'import', 'require', 'default']
        })
      ]
    },
    rules: {
      // Blind to `import type` (the plugin skips type-only imports, with no option to count
      // them); main/test/architecture.test.ts checks the whole graph with types included.
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'import-x/no-restricted-paths': ['error', { basePath: import.meta.dirname, zones: layers }]
    }
  },
  {
    files: ['shared/**/*.{ts,tsx}', 'renderer/**/*.{ts,tsx}'],
    rules: { 'no-restricted-imports': ['error', restrictedForPureCode] }
  },
  {
    // The core services run in plain Node too (grove seed, grove serve, the tests).
    files: ['main/**/*.ts'],
    ignores: ['main/electron/**'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [{ name: 'electron', message: 'Only main/electron/ may import Electron.' }],
        patterns: [{ group: ['electron/*'], message: 'Only main/electron/ may import Electron.' }]
      }]
    }
  }
)
