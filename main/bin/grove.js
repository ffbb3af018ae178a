#!/usr/bin/env node
// The `grove` command. The TypeScript sources build to dist/ (npm install runs the build).
// CommonJS on purpose (main/bin/package.json says so; the name stays grove.js so that npx caches
// of the bin keep working): Node's ES-module loader starts libuv's thread pool before an ES
// module's first line runs, and the pool reads UV_THREADPOOL_SIZE only when it starts.

// Two libuv threads are plenty for Grove's disk and RocksDB work, and on Linux every thread that
// allocates gets a malloc arena of its own, which holds on to freed blocks.
process.env.UV_THREADPOOL_SIZE ??= '2'

// `grove browse --json | head`: once the reader is gone, stop quietly, as Unix tools do on
// SIGPIPE, instead of an unhandled EPIPE stack trace. Everything Grove writes to disk is atomic or
// journaled, and a forwarded command is cancelled when its client goes.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err && err.code === 'EPIPE') process.exit(process.exitCode ?? 0)
    throw err
  })
}

import('../../dist/main/cli/main.js')
  .then(({ main }) => main(process.argv))
  .then(
    (code) => {
      process.exitCode = code
    },
    (err) => {
      process.stderr.write(`grove: ${err?.message ?? err}\n`)
      process.exitCode = 1
    }
  )
