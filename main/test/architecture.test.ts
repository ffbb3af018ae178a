// The import structure DESIGN.md asks for: no import circles anywhere in main/, shared/ or
// renderer/, and imports that only point inward. Each check is first shown to fail on a
// deliberately bad pair of files, then run on the real tree.
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { ESLint } from 'eslint'
import ts from 'typescript'
import { describeCycle, importCycles, importEdges, projectFiles, type ImportEdge } from '../testing/import-cycles.js'

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')

/** Lints with the project's own eslint.config.js, keeping only the named rules. */
async function lint(paths: string[], rules: string[]): Promise<ESLint.LintResult[]> {
  const eslint = new ESLint({ cwd: REPO_ROOT, ruleFilter: ({ ruleId }) => rules.includes(ruleId) })
  return eslint.lintFiles(paths)
}

function messages(results: ESLint.LintResult[]): string[] {
  return results.flatMap((r) => r.messages.map((m) => `${r.filePath.slice(REPO_ROOT.length + 1)}:${m.line} ${m.ruleId ?? '(parse)'} ${m.message}`))
}

/** Writes files under the repo (where the lint config's globs apply) and removes them afterwards. */
async function withProbeFiles<T>(files: Record<string, string>, fn: (paths: string[]) => Promise<T>): Promise<T> {
  // A dot-folder: tsc's include globs skip it, so a concurrent build never compiles a probe.
  const folders = new Set<string>()
  const paths: string[] = []
  try {
    for (const [name, text] of Object.entries(files)) {
      const path = join(REPO_ROOT, name)
      folders.add(dirname(path))
      await mkdir(dirname(path), { recursive: true })
      await writeFile(path, text)
      paths.push(path)
    }
    return await fn(paths)
  } finally {
    for (const folder of folders) await rm(folder, { recursive: true, force: true })
  }
}

const probe = `.architecture-probe-${process.pid}`

test('import-x/no-cycle reports two modules that import each other, in main/, shared/ and renderer/', async () => {
  const files: Record<string, string> = {}
  for (const [dir, ext] of [['main', 'ts'], ['shared', 'ts'], ['renderer/src', 'tsx']] as const) {
    files[`${dir}/${probe}/a.${ext}`] = "import { b } from './b.js'\nexport const a = (): number => b() + 1\n"
    files[`${dir}/${probe}/b.${ext}`] = "import { a } from './a.js'\nexport const b = (): number => a() - 1\n"
  }
  await withProbeFiles(files, async (paths) => {
    const results = await lint(paths, ['import-x/no-cycle'])
    assert.equal(results.length, paths.length)
    for (const r of results) {
      assert.deepEqual(r.messages.map((m) => m.ruleId), ['import-x/no-cycle'], `${r.filePath}: ${messages([r]).join('; ')}`)
    }
  })
})

// The real tree is linted by `npm run lint`, which `npm test` runs first; the graph check below also counts type-only imports.

test('import-x/no-restricted-paths refuses imports that point outward', async () => {
  await withProbeFiles(
    {
      [`shared/${probe}/x.ts`]: "export { GroveApi } from '../../main/api/api.js'\n",
      [`renderer/src/${probe}/x.ts`]: "import type { Grove } from '../../../main/core/grove.js'\nexport type G = Grove\n",
      [`main/api/${probe}/x.ts`]: "export { GroveServer } from '../../server/server.js'\n"
    },
    async (paths) => {
      const results = await lint(paths, ['import-x/no-restricted-paths'])
      for (const r of results) {
        assert.deepEqual(r.messages.map((m) => m.ruleId), ['import-x/no-restricted-paths'], `${r.filePath}: ${messages([r]).join('; ')}`)
      }
    }
  )
})

test('a circle through type-only imports is found', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'grove-cycle-'))
  try {
    const a = join(dir, 'a.ts')
    const b = join(dir, 'b.ts')
    await writeFile(a, "import type { B } from './b.js'\nexport interface A { b?: B }\n")
    await writeFile(b, "export type B = import('./a.js').A[]\n")
    const options = { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext }
    const cycles = importCycles([a, b], importEdges([a, b], options), dir)
    assert.deepEqual(cycles, [
      {
        files: ['a.ts', 'b.ts'],
        edges: [
          { from: 'a.ts', to: 'b.ts', typeOnly: true, dynamic: false },
          { from: 'b.ts', to: 'a.ts', typeOnly: true, dynamic: false }
        ]
      }
    ])
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('no import circle in main/, shared/ or renderer/, type-only imports included', () => {
  const files: string[] = []
  const edges: ImportEdge[] = []
  for (const tsconfig of ['tsconfig.json', 'renderer/tsconfig.json']) {
    const project = projectFiles(join(REPO_ROOT, tsconfig))
    files.push(...project.files)
    edges.push(...importEdges(project.files, project.options))
  }
  for (const dir of ['main/', 'shared/', 'renderer/']) {
    assert.ok(files.some((f) => f.startsWith(join(REPO_ROOT, dir))), `no sources found under ${dir}`)
  }
  const cycles = importCycles(files, edges, REPO_ROOT)
  assert.deepEqual(cycles.map((c) => c.files), [], `import circles:\n${cycles.map(describeCycle).join('\n\n')}`)
})
