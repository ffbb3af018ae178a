// Import circles among TypeScript sources, type-only imports included. ESLint's import-x/no-cycle
// skips `import type` (with no option to count it), yet a circle through types still ties the
// modules together: neither can be understood, moved or tested without the other. This reads
// imports with TypeScript's own parser and resolves them the way the compiler does.
import { readFileSync } from 'node:fs'
import { relative } from 'node:path'
import ts from 'typescript'

export interface ImportEdge {
  from: string
  to: string
  /** `import type`, `export type … from`, or an `import('…')` type. */
  typeOnly: boolean
  /** `await import('…')`. */
  dynamic: boolean
}

/** One circle: files that all reach each other (a strongly connected component), and the imports among them. */
export interface ImportCycle {
  /** Paths relative to the root, sorted. */
  files: string[]
  edges: ImportEdge[]
}

/** The source files a tsconfig compiles (no declaration files). */
export function projectFiles(tsconfigPath: string): { files: string[]; options: ts.CompilerOptions } {
  const parsed = ts.getParsedCommandLineOfConfigFile(tsconfigPath, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} })
  if (!parsed) throw new Error(`cannot read ${tsconfigPath}`)
  if (parsed.errors.length > 0) throw new Error(ts.flattenDiagnosticMessageText(parsed.errors[0]?.messageText ?? '', '\n'))
  return { files: parsed.fileNames.filter((f) => !f.endsWith('.d.ts')), options: parsed.options }
}

/** Relative imports of each file that resolve to another file of the set. */
export function importEdges(files: readonly string[], options: ts.CompilerOptions): ImportEdge[] {
  const known = new Set(files)
  const edges: ImportEdge[] = []
  for (const file of files) {
    const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true)
    const visit = (node: ts.Node): void => {
      const found = importOf(node)
      if (found !== undefined && found.specifier.startsWith('.')) {
        const resolved = ts.resolveModuleName(found.specifier, file, options, ts.sys).resolvedModule?.resolvedFileName
        if (resolved !== undefined && known.has(resolved) && resolved !== file) {
          edges.push({ from: file, to: resolved, typeOnly: found.typeOnly, dynamic: found.dynamic })
        }
      }
      ts.forEachChild(node, visit)
    }
    visit(source)
  }
  return edges
}

function importOf(node: ts.Node): { specifier: string; typeOnly: boolean; dynamic: boolean } | undefined {
  if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
    const clause = node.importClause
    const named = clause?.namedBindings !== undefined && ts.isNamedImports(clause.namedBindings) ? clause.namedBindings.elements : undefined
    const typeOnly = clause !== undefined && (clause.isTypeOnly || (clause.name === undefined && named !== undefined && named.length > 0 && named.every((e) => e.isTypeOnly)))
    return { specifier: node.moduleSpecifier.text, typeOnly, dynamic: false }
  }
  if (ts.isExportDeclaration(node) && node.moduleSpecifier !== undefined && ts.isStringLiteral(node.moduleSpecifier)) {
    return { specifier: node.moduleSpecifier.text, typeOnly: node.isTypeOnly, dynamic: false }
  }
  if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
    const arg = node.arguments[0]
    return arg !== undefined && ts.isStringLiteral(arg) ? { specifier: arg.text, typeOnly: false, dynamic: true } : undefined
  }
  if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
    return { specifier: node.argument.literal.text, typeOnly: true, dynamic: false }
  }
  return undefined
}

/** Every circle in the graph (Tarjan's strongly connected components of more than one file), sorted. */
export function importCycles(files: readonly string[], edges: readonly ImportEdge[], root: string): ImportCycle[] {
  const out = new Map<string, ImportEdge[]>()
  for (const e of edges) {
    let list = out.get(e.from)
    if (!list) out.set(e.from, (list = []))
    list.push(e)
  }
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const components: string[][] = []
  // Iterative, so a long import chain cannot overflow the call stack.
  for (const start of files) {
    if (index.has(start)) continue
    const work: { file: string; next: number }[] = [{ file: start, next: 0 }]
    index.set(start, index.size)
    low.set(start, index.get(start) ?? 0)
    stack.push(start)
    onStack.add(start)
    while (work.length > 0) {
      const top = work[work.length - 1]
      if (!top) break
      const edge = out.get(top.file)?.[top.next++]
      if (edge !== undefined) {
        if (!index.has(edge.to)) {
          index.set(edge.to, index.size)
          low.set(edge.to, index.get(edge.to) ?? 0)
          stack.push(edge.to)
          onStack.add(edge.to)
          work.push({ file: edge.to, next: 0 })
        } else if (onStack.has(edge.to)) {
          low.set(top.file, Math.min(low.get(top.file) ?? 0, index.get(edge.to) ?? 0))
        }
        continue
      }
      work.pop()
      const parent = work[work.length - 1]
      if (parent) low.set(parent.file, Math.min(low.get(parent.file) ?? 0, low.get(top.file) ?? 0))
      if (low.get(top.file) !== index.get(top.file)) continue
      const component: string[] = []
      let member: string | undefined
      do {
        member = stack.pop()
        if (member === undefined) break
        onStack.delete(member)
        component.push(member)
      } while (member !== top.file)
      if (component.length > 1) components.push(component)
    }
  }
  const rel = (file: string): string => relative(root, file).split('\\').join('/')
  return components
    .map((component) => {
      const members = new Set(component)
      return {
        files: component.map(rel).sort(),
        edges: edges.filter((e) => members.has(e.from) && members.has(e.to)).map((e) => ({ ...e, from: rel(e.from), to: rel(e.to) }))
      }
    })
    .sort((a, b) => ((a.files[0] ?? '') < (b.files[0] ?? '') ? -1 : 1))
}

/** One line per import inside a circle, for a failure message. */
export function describeCycle(cycle: ImportCycle): string {
  return cycle.edges.map((e) => `${e.from} → ${e.to}${e.typeOnly ? ' (type-only)' : ''}${e.dynamic ? ' (dynamic)' : ''}`).join('\n')
}
