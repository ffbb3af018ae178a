// llama.cpp's log, captured. node-llama-cpp throws bare errors such as "Failed to load model" or
// 'Failed to initialize LoRA adapter "…"' and reports the native reason ("unknown model
// architecture", "tensor … has incorrect shape") only in its log, which arrives asynchronously.
// The worker keeps the recent warnings and errors here and quotes the reason in its error.
import { LlamaLogLevel } from 'node-llama-cpp'

interface Line {
  seq: number
  level: LlamaLogLevel
  message: string
}

const KEEP = 200
/** node-llama-cpp's own retries and fallbacks, which are not the reason for a failure. */
const NOISE = [/^Failed simulating model resource usage/, /^Failed to parse GGUF metadata buffer/]

export class NativeLog {
  private lines: Line[] = []
  private seq = 0

  constructor(private readonly forward?: (level: LlamaLogLevel, message: string) => void) {}

  /** The logger to hand to getLlama. */
  readonly logger = (level: LlamaLogLevel, message: string): void => {
    const text = message.trim()
    if (text.length === 0) return
    this.lines.push({ seq: ++this.seq, level, message: text })
    if (this.lines.length > KEEP) this.lines.splice(0, this.lines.length - KEEP)
    this.forward?.(level, text)
  }

  /** A position to read from later (call before the native operation). */
  mark(): number {
    return this.seq
  }

  /**
   * The native reason for a failure since `mark`, as one short phrase, or undefined. Waits a
   * moment first: the log is delivered after the promise that failed.
   */
  async reasonSince(mark: number, settleMs = 60): Promise<string | undefined> {
    await new Promise((resolve) => setTimeout(resolve, settleMs))
    const since = this.lines.filter((l) => l.seq > mark && !NOISE.some((n) => n.test(l.message)))
    const errors = since.filter((l) => l.level === LlamaLogLevel.error || l.level === LlamaLogLevel.fatal)
    const pick = errors[0] ?? since.find((l) => l.level === LlamaLogLevel.warn)
    return pick ? cleanNativeMessage(pick.message) : undefined
  }
}

/** "llama_model_load: error loading model: unknown model architecture: 'x'" → "unknown model architecture: 'x'". */
export function cleanNativeMessage(message: string): string {
  let text = message.split('\n')[0] ?? message
  for (;;) {
    const next = text.replace(/^[a-z][a-z0-9_]*: /, '').replace(/^error loading model( hyperparameters)?: /, '')
    if (next === text) break
    text = next
  }
  return text.slice(0, 500)
}
