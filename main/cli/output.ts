// How commands talk to people and scripts: human text (with progress bars on a terminal) or,
// with --json, one JSON object per line on stdout with the result object last. Whatever goes
// out is inert (./terminal-text.ts): commands escape each name, licence or message from a
// peer or a file with inertLine so it stays on its line, and everything written here passes
// through inertText or inertJson once more, so nothing forgotten can drive the terminal.
import { Writable } from 'node:stream'
import cliProgress from 'cli-progress'
import type { CommandIO } from './command-io.js'
import { inertJson, inertLine, inertText } from './terminal-text.js'

export interface OutputOptions {
  json: boolean
  io: CommandIO
}

export class Output {
  readonly json: boolean
  private readonly io: CommandIO

  constructor(opts: OutputOptions) {
    this.json = opts.json
    this.io = opts.io
  }

  /** Text as it comes (generated tokens), made inert; nothing is added. */
  write(text: string): void {
    this.io.stdout(inertText(text))
  }

  /** The command's result: JSON on stdout with --json, else the human text. */
  result(value: unknown, human: string | (() => string)): void {
    if (this.json) this.io.stdout(inertJson(value) + '\n')
    else this.io.stdout(inertText(typeof human === 'function' ? human() : human) + '\n')
  }

  /** A JSON line with --json (progress and events); nothing otherwise. */
  event(value: Record<string, unknown>): void {
    if (this.json) this.io.stdout(inertJson(value) + '\n')
  }

  /** Human status text on stderr (never mixed into --json output). */
  info(text: string): void {
    if (!this.json) this.io.stderr(inertText(text) + '\n')
  }

  /** A byte-progress bar on a terminal; a no-op in --json mode or without a TTY. */
  bar(label: string, total: number): ProgressBar {
    if (this.json || !this.io.interactive) return { update() {}, stop() {} }
    const bar = new cliProgress.SingleBar(
      {
        format: `${inertLine(label)} |{bar}| {percentage}% {done}/{size} MB {speed} MB/s {extra}ETA {eta_formatted}`,
        stream: terminalStream(this.io),
        hideCursor: true,
        clearOnComplete: false,
        etaBuffer: 50
      },
      cliProgress.Presets.shades_classic
    )
    const started = Date.now()
    bar.start(total, 0, { done: '0', size: mbText(total), speed: '0', extra: '' })
    return {
      update(bytes: number, extra?: string) {
        const seconds = Math.max(0.001, (Date.now() - started) / 1000)
        bar.update(bytes, { done: mbText(bytes), size: mbText(total), speed: (bytes / 1e6 / seconds).toFixed(1), extra: extra ? extra + ' ' : '' })
      },
      stop() {
        bar.stop()
      }
    }
  }
}

/** The stream cli-progress draws on: stderr itself, or one that passes its output to a forwarding client's terminal. */
function terminalStream(io: CommandIO): NodeJS.WritableStream {
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      io.stderr(chunk.toString())
      done()
    }
  })
  return Object.assign(stream, { isTTY: true, columns: io.columns ?? 80 })
}

export interface ProgressBar {
  update(bytes: number, extra?: string): void
  stop(): void
}

export function mbText(bytes: number): string {
  return (bytes / 1e6).toFixed(bytes < 1e7 ? 2 : 0)
}

/** Renders rows as aligned columns, each cell one inert line, widths measured on what is printed. */
export function table(header: string[], rows: string[][]): string {
  const printed = [header, ...rows].map((cells) => cells.map(inertLine))
  const widths = header.map((_, i) => Math.max(...printed.map((cells) => (cells[i] ?? '').length)))
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()
  return printed.map(line).join('\n')
}
