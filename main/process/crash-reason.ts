// Why a worker process died, from what it printed as it went: llama.cpp's assertion, an abort,
// an uncaught error.

export function nativeCrashReason(stderr: string): string | undefined {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l.length > 0)
  const patterns = [/GGML_ASSERT|GGML_ABORT|ggml_abort/, /terminate called|what\(\):|Segmentation fault|Aborted|out of memory|std::bad_alloc/i, /^\w*Error: /]
  for (const pattern of patterns) {
    const line = lines.findLast((l) => pattern.test(l))
    if (line) return line.replace(/^.*?\/(llama\.cpp|ggml)\/[^\s:]*:\d+: /, '').slice(0, 300)
  }
  return undefined
}
