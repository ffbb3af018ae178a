// The inference worker: a child process (Node `child_process.fork` from the CLI and the headless
// server, Electron `utilityProcess.fork` in the app) that owns node-llama-cpp. Whatever llama.cpp
// does with a hostile or broken GGUF — even abort the process — stays in here; the parent
// (service.ts) reports it and starts a fresh worker for the next request.
//
// Arguments: `--gpu=auto` (default) or `--gpu=off`. GROVE_DEBUG=1 prints llama.cpp's log to stderr.
import { toErrorPayload } from '../../shared/errors.js'
import { InferenceEngine } from './engine.js'
import { WorkerRequest, type WorkerMessage } from './protocol.js'
import { parentPort } from '../process/parent-port.js'

const gpu = process.argv.includes('--gpu=off') ? false : 'auto'
const debug = Boolean(process.env.GROVE_DEBUG)
const engine = new InferenceEngine({ gpu, onLog: debug ? (level, message) => process.stderr.write(`[llama.cpp ${level}] ${message}\n`) : undefined })
const port = parentPort<WorkerMessage>('grove inference worker')
const running = new Map<number, AbortController>()

async function handle(request: WorkerRequest & { type: 'load' | 'generate' | 'fit' | 'hardware' | 'unload' }): Promise<unknown> {
  switch (request.type) {
    case 'load':
      return engine.load(request.spec)
    case 'fit':
      return engine.fit(request.spec)
    case 'hardware':
      return engine.hardware()
    case 'unload':
      await engine.unload()
      return null
    case 'generate': {
      const controller = new AbortController()
      running.set(request.id, controller)
      try {
        return await engine.generate(request.spec, request.input, request.options, {
          signal: controller.signal,
          onLoaded: (load) => port.send({ type: 'loaded', id: request.id, load }),
          onChunk: (tokens, text) => port.send({ type: 'chunk', id: request.id, tokens, text })
        })
      } finally {
        running.delete(request.id)
      }
    }
  }
}

port.onMessage((raw) => {
  const parsed = WorkerRequest.safeParse(raw)
  if (!parsed.success) {
    const id = (raw as { id?: unknown } | null)?.id
    if (typeof id === 'number') port.send({ type: 'error', id, error: { code: 'BAD_INPUT', message: `Malformed request: ${parsed.error.issues[0]?.message ?? 'invalid'}` } })
    return
  }
  const request = parsed.data
  if (request.type === 'cancel') {
    running.get(request.id)?.abort()
    return
  }
  if (request.type === 'shutdown') {
    for (const controller of running.values()) controller.abort()
    void engine.dispose().finally(() => process.exit(0))
    return
  }
  handle(request).then(
    (result) => port.send({ type: 'result', id: request.id, result }),
    (err: unknown) => port.send({ type: 'error', id: request.id, error: toErrorPayload(err) })
  )
})

// A parent that goes away (crash, kill -9) takes its worker with it.
process.on('disconnect', () => process.exit(0))
// Ctrl-C in a terminal signals the whole process group: the parent decides (cancel, then close).
process.on('SIGINT', () => {})

port.send({ type: 'ready', pid: process.pid })
// Start llama.cpp now so the first request does not wait for it (errors surface on requests).
void engine.llama().catch(() => {})
