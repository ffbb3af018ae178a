// Chat generations for the UI: `chat.start` resolves the model and adapters from the library,
// starts the generation in the inference worker and returns an id at once; tokens go out as
// `chat.token` events, then one `chat.done` or `chat.error`. `chat.stop` aborts one (the
// generation then ends with stopReason "cancelled").
import { randomUUID } from 'node:crypto'
import type { z } from 'zod'
import type { ChatRequest, EventName, EventPayload } from '../../shared/api.js'
import { GroveError, toClientError } from '../../shared/errors.js'
import { resolveLoadSpec } from '../inference/resolve.js'
import type { InferenceService } from '../inference/service.js'

/** Generations running at once (they queue in the one worker anyway). */
export const MAX_CHATS = 4
const CLOSE_WAIT_MS = 5000

export type ChatArgs = z.output<typeof ChatRequest>

export interface ChatManagerOptions {
  inference: InferenceService
  /** The Grove home whose library the models come from. */
  home: string
  /** Throws LICENSE_NOT_ACCEPTED when a model or adapter still needs its licence accepted. */
  checkLicense(link: string): void
  emit<E extends EventName>(event: E, payload: EventPayload<E>): void
  /** Where the detail of an unexpected error goes (the client gets a generic message). */
  log(detail: string): void
  /** A generation finished (for the hardware cache). */
  onFinished?(): void
}

interface Running {
  controller: AbortController
  done: Promise<void>
}

export class ChatManager {
  private readonly running = new Map<string, Running>()
  private closed = false

  constructor(private readonly options: ChatManagerOptions) {}

  async start(request: ChatArgs): Promise<{ id: string }> {
    if (this.closed) throw new GroveError('CLOSED', 'Grove is shutting down')
    if (request.messages.at(-1)?.role !== 'user') throw new GroveError('BAD_INPUT', 'The last message must be from the user')
    if (this.running.size >= MAX_CHATS) throw new GroveError('IN_USE', `${MAX_CHATS} generations are already running; stop one first`)
    this.options.checkLicense(request.link)
    for (const adapter of request.adapters) this.options.checkLicense(adapter.link)
    const spec = await resolveLoadSpec(
      { model: request.link, adapters: request.adapters.map((a) => ({ target: a.link, scale: a.scale })), home: this.options.home, libraryOnly: true },
      { contextSize: request.contextSize, ignoreBaseHash: request.ignoreBaseHash ?? false }
    )
    const id = randomUUID()
    const controller = new AbortController()
    const entry: Running = { controller, done: Promise.resolve() }
    this.running.set(id, entry)
    // Starts after this call has answered, so the caller knows the id before its tokens come.
    entry.done = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.generate(id, request, spec, controller.signal))
    return { id }
  }

  /** Stops a generation; stopping one that has finished (or never ran) does nothing. */
  stop(id: string): void {
    this.running.get(id)?.controller.abort()
  }

  async close(): Promise<void> {
    this.closed = true
    const pending = [...this.running.values()]
    for (const r of pending) r.controller.abort()
    let timer: NodeJS.Timeout | undefined
    await Promise.race([Promise.allSettled(pending.map((r) => r.done)), new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS)))])
    clearTimeout(timer)
  }

  private async generate(id: string, request: ChatArgs, spec: Awaited<ReturnType<typeof resolveLoadSpec>>, signal: AbortSignal): Promise<void> {
    try {
      const result = await this.options.inference.chat(
        spec,
        request.messages,
        { maxTokens: request.maxTokens, temperature: request.temperature, seed: request.seed },
        {
          signal,
          onToken: (chunk) => this.options.emit('chat.token', { id, text: chunk.text, tokens: chunk.tokens })
        }
      )
      this.options.emit('chat.done', {
        id,
        text: result.text,
        stopReason: result.stopReason,
        timings: { loadMs: result.timings.loadMs, firstTokenMs: result.timings.firstTokenMs, tokensPerSecond: result.timings.tokensPerSecond }
      })
    } catch (err) {
      const { code, message } = toClientError(err, (detail) => this.options.log(`chat ${id} failed: ${detail}`))
      this.options.emit('chat.error', { id, code, message })
    } finally {
      this.running.delete(id)
      this.options.onFinished?.()
    }
  }
}
