#!/usr/bin/env node
// The `grove` command. The TypeScript sources build to dist/ (npm install runs the build).

// Two libuv threads are plenty for Grove's disk and RocksDB work, and on Linux every thread that
// allocates gets a malloc arena of its own, which holds on to freed 1 MiB blocks: a 1 GiB fetch
// grew to 300 MB with the default four threads and peaked at 252 MB with two, just as fast
// (npm run bench:transfer). libuv reads this once, when its pool starts: set it before loading.
process.env.UV_THREADPOOL_SIZE ??= '2'

const { main } = await import('../../dist/main/cli/main.js')

main(process.argv).then(
  (code) => { process.exitCode = code },
  (err) => {
    process.stderr.write(`grove: ${err?.message ?? err}\n`)
    process.exitCode = 1
  }
)
