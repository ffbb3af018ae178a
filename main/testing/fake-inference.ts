// A stand-in for InferenceService in tests of what runs when (no worker, no model): each
// generation waits until the test finishes it (or its signal aborts it), and the fake counts how
// many it was asked to run at once. `fail` makes the next generations throw instead.
import type { ChatMessage, SamplingOptions } from '../inference/protocol.js'
import type { GenerateCallbacks, GenerateRequest, GenerateResult, InferenceService } from '../inference/service.js'

interface Generation {
  finish(): void
}

export class FakeInference {
  /** Generations running in the fake now, the most at once, and all it was asked for. */
  active = 0
  maxActive = 0
  calls = 0
  /** Thrown by the next generations and by `fit` (unset: they run). */
  fail: Error | undefined
  private readonly waiting: Generation[] = []

  /** The object to hand where an InferenceService is expected. */
  get service(): InferenceService {
    return this as unknown as InferenceService
  }

  readonly pid = undefined

  generate(_request: GenerateRequest, callbacks: GenerateCallbacks = {}): Promise<GenerateResult> {
    this.calls++
    if (this.fail) return Promise.reject(this.fail)
    this.active++
    this.maxActive = Math.max(this.maxActive, this.active)
    return new Promise<GenerateResult>((resolve) => {
      let done = false
      const finish = (stopReason: GenerateResult['stopReason']) => {
        if (done) return
        done = true
        this.active--
        const index = this.waiting.indexOf(generation)
        if (index >= 0) this.waiting.splice(index, 1)
        callbacks.onToken?.({ tokens: [1], text: 'ok' })
        resolve(result(stopReason))
      }
      const generation: Generation = { finish: () => finish('maxTokens') }
      this.waiting.push(generation)
      callbacks.signal?.addEventListener('abort', () => finish('cancelled'), { once: true })
      if (callbacks.signal?.aborted) finish('cancelled')
    })
  }

  chat(spec: GenerateRequest['spec'], messages: ChatMessage[], options?: SamplingOptions, callbacks?: GenerateCallbacks): Promise<GenerateResult> {
    return this.generate({ spec, input: { kind: 'chat', messages }, options }, callbacks)
  }

  async fit(): Promise<never> {
    throw this.fail ?? new Error('FakeInference.fit: set `fail` to use it')
  }

  /** Ends the oldest running generation; false when none runs. */
  finishOne(): boolean {
    const next = this.waiting[0]
    next?.finish()
    return next !== undefined
  }

  finishAll(): void {
    while (this.finishOne()) {
      // each finish removes itself
    }
  }
}

function result(stopReason: GenerateResult['stopReason']): GenerateResult {
  return {
    text: 'ok',
    tokens: [1],
    promptTokens: 3,
    stopReason,
    mode: 'chat',
    load: { loadMs: 0, reused: true } as unknown as GenerateResult['load'],
    timings: { loadMs: 0, firstTokenMs: 1, tokensPerSecond: 1, totalMs: 1, worker: { firstTokenMs: 1, tokensPerSecond: 1 } }
  }
}
