// Lint rules that hold the architecture in place (DESIGN.md, "Imports only point inward"):
// shared/ is pure TypeScript and renderer/ talks to main only through the API contract, so
// neither may import Node built-ins, Electron or anything under main/.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'
import { builtinModules } from 'node:module'

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)]
const restrictedForPureCode = {
  paths: [
    ...nodeBuiltins.map((name) => ({ name, message: 'shared/ and renderer/ must not import Node built-ins.' })),
    { name: 'electron', message: 'shared/ and renderer/ must not import Electron.' }
  ],
  patterns: [
    { group: ['node:*'], message: 'shared/ and renderer/ must not import Node built-ins.' },
    { group: ['electron/*'], message: 'shared/ and renderer/ must not import Electron.' },
    { group: ['**/main/**', '../main', '../../main'], message: 'shared/ and renderer/ must not import main/.' }
  ]
}

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
    files: ['shared/**/*.{ts,tsx}', 'renderer/**/*.{ts,tsx}'],
    rules: { 'no-restricted-imports': ['error', restrictedForPureCode] }
  },
  {
    files: ['main/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{ group: ['**/renderer/**'], message: 'main/ must not import renderer/.' }]
      }]
    }
  }
)
