// Chat generations for the UI: `chat.start` takes a place in the generation scheduler (shared
// with the OpenAI-compatible /v1), resolves the model and adapters from the library and returns
// an id at once; the generation runs when its turn comes. Tokens go out as `chat.token` events,
// then one `chat.done` or `chat.error`. `chat.stop` aborts one, queued or running (it then ends
// with stopReason "cancelled"). A full queue refuses `chat.start` with BUSY.
import { randomUUID } from 'node:crypto'
import type { z } from 'zod'
import type { ChatRequest, EventName, EventPayload } from '../../shared/api.js'
import { GroveError, toClientError } from '../../shared/errors.js'
import { resolveLoadSpec } from '../inference/resolve.js'
import type { Admission, GenerationScheduler } from '../inference/scheduler.js'
import type { InferenceService } from '../inference/service.js'

const CLOSE_WAIT_MS = 5000

export type ChatArgs = z.output<typeof ChatRequest>

export interface ChatManagerOptions {
  inference: InferenceService
  /** Who runs when: shared with every other client of `inference`. */
  scheduler: GenerationScheduler
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

interface Chat {
  controller: AbortController
  done: Promise<void>
}

type Spec = Awaited<ReturnType<typeof resolveLoadSpec>>

export class ChatManager {
  private readonly chats = new Map<string, Chat>()
  private closed = false

  constructor(private readonly options: ChatManagerOptions) {}

  async start(request: ChatArgs): Promise<{ id: string }> {
    if (this.closed) throw new GroveError('CLOSED', 'Grove is shutting down')
    if (request.messages.at(-1)?.role !== 'user') throw new GroveError('BAD_INPUT', 'The last message must be from the user')
    this.options.checkLicense(request.link)
    for (const adapter of request.adapters) this.options.checkLicense(adapter.link)
    const controller = new AbortController()
    // Taken before the first await: the place is counted the moment it is checked.
    const admission = this.options.scheduler.admit(controller.signal)
    const id = randomUUID()
    const chat: Chat = { controller, done: Promise.resolve() }
    this.chats.set(id, chat)
    let spec: Spec
    try {
      spec = await resolveLoadSpec(
        { model: request.link, adapters: request.adapters.map((a) => ({ target: a.link, scale: a.scale })), home: this.options.home, libraryOnly: true },
        { contextSize: request.contextSize, ignoreBaseHash: request.ignoreBaseHash ?? false }
      )
    } catch (err) {
      admission.release()
      this.chats.delete(id)
      throw err
    }
    // Starts after this call has answered, so the caller knows the id before its tokens come.
    chat.done = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.generate(id, request, spec, admission, controller.signal))
    return { id }
  }

  /** Stops a generation, queued or running; stopping one that has finished (or never ran) does nothing. */
  stop(id: string): void {
    this.chats.get(id)?.controller.abort()
  }

  async close(): Promise<void> {
    this.closed = true
    const pending = [...this.chats.values()]
    for (const chat of pending) chat.controller.abort()
    let timer: NodeJS.Timeout | undefined
    await Promise.race([Promise.allSettled(pending.map((chat) => chat.done)), new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS)))])
    clearTimeout(timer)
  }

  private async generate(id: string, request: ChatArgs, spec: Spec, admission: Admission, signal: AbortSignal): Promise<void> {
    let started = false
    try {
      await admission.turn
      started = true
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
      if (!started && signal.aborted) {
        // Stopped while it waited for its turn: it ends as a stopped generation does.
        this.options.emit('chat.done', { id, text: '', stopReason: 'cancelled', timings: { loadMs: 0, firstTokenMs: 0, tokensPerSecond: 0 } })
      } else {
        const { code, message } = toClientError(err, (detail) => this.options.log(`chat ${id} failed: ${detail}`))
        this.options.emit('chat.error', { id, code, message })
      }
    } finally {
      admission.release()
      this.chats.delete(id)
      this.options.onFinished?.()
    }
  }
}
