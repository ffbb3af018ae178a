#!/usr/bin/env node
// The `grove` command. The TypeScript sources build to dist/ (npm install runs the build).
import { main } from '../../dist/main/cli/main.js'

main(process.argv).then(
  (code) => { process.exitCode = code },
  (err) => {
    process.stderr.write(`grove: ${err?.message ?? err}\n`)
    process.exitCode = 1
  }
)
