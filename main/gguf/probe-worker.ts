// The GGUF probe's child process (probe.ts starts it for a file, or for a row of them): checks the file's header
// with the bounded reader, then lets llama.cpp itself open the file (all of it for a small
// model, its vocabulary for a big one), so that a file llama.cpp refuses, or that makes it
// abort, is found here and not after it was published. The parent bounds this
// process's memory and time; whatever the file does to it stays in here.
import { firstLine, toErrorPayload } from '../../shared/errors.js'
import { readGgufHeader } from './header.js'
import { parentPort } from '../process/parent-port.js'
import { ProbeRequest, type ProbeReply } from './probe-protocol.js'
import { ggufProblem, isAdapter } from './summary.js'

async function probe(request: ProbeRequest): Promise<ProbeReply> {
  // Read again here: the file may have changed since the parent read it.
  const header = await readGgufHeader(request.path)
  const llamaCpp = await import('node-llama-cpp')
  // A const enum in node-llama-cpp's types, an object at run time: the architectures this llama.cpp knows.
  const architectures = (llamaCpp as unknown as { GgufArchitectureType: Record<string, string> }).GgufArchitectureType
  const problem = ggufProblem(header, new Set(Object.values(architectures)))
  if (problem || isAdapter(header) || request.open === 'none') return { type: 'result', problem }
  return { type: 'result', problem: await openWithLlamaCpp(llamaCpp, request) }
}

type Llama = Awaited<ReturnType<(typeof import('node-llama-cpp'))['getLlama']>>
type NativeLogInstance = InstanceType<(typeof import('../llama/native-log.js'))['NativeLog']>
/** llama.cpp, started once per process: a row of files (`grove share DIR`) is opened by the same one. */
let started: Promise<{ llama: Llama; log: NativeLogInstance }> | null = null

/** Why llama.cpp refuses to open the model, or null when it opens it. */
async function openWithLlamaCpp(llamaCpp: typeof import('node-llama-cpp'), request: ProbeRequest): Promise<string | null> {
  started ??= (async () => {
    const { NativeLog } = await import('../llama/native-log.js')
    const log = new NativeLog()
    const llama = await llamaCpp.getLlama({ gpu: false, build: 'never', logLevel: llamaCpp.LlamaLogLevel.warn, logger: log.logger })
    return { llama, log }
  })()
  const { llama, log } = await started
  const mark = log.mark()
  try {
    const model = await llama.loadModel({ modelPath: request.path, vocabOnly: request.open === 'vocab', gpuLayers: 0 })
    await model.dispose()
    return null
  } catch (err) {
    return `llama.cpp cannot open it: ${(await log.reasonSince(mark)) ?? firstLine(err).slice(0, 300)}`
  }
}

const port = parentPort<ProbeReply>('grove gguf probe')
port.onMessage((raw) => {
  const parsed = ProbeRequest.safeParse(raw)
  if (!parsed.success) {
    port.send({ type: 'error', error: { code: 'BAD_INPUT', message: 'Malformed probe request' } })
    return
  }
  probe(parsed.data).then(
    (reply) => port.send(reply),
    (err: unknown) => port.send({ type: 'error', error: toErrorPayload(err) })
  )
})
// A parent that goes away takes its probe with it.
process.on('disconnect', () => process.exit(0))
process.on('SIGINT', () => {})
port.send({ type: 'ready' })
