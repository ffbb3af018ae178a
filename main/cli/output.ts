// How commands talk to people and scripts: human text (with progress bars on a terminal) or,
// with --json, one JSON object per line on stdout with the result object last.
import cliProgress from 'cli-progress'

export interface OutputOptions {
  json: boolean
}

export class Output {
  readonly json: boolean
  private readonly interactive = Boolean(process.stderr.isTTY)

  constructor(opts: OutputOptions) {
    this.json = opts.json
  }

  /** The command's result: JSON on stdout with --json, else the human text. */
  result(value: unknown, human: string | (() => string)): void {
    if (this.json) process.stdout.write(JSON.stringify(value) + '\n')
    else process.stdout.write((typeof human === 'function' ? human() : human) + '\n')
  }

  /** A JSON line with --json (progress and events); nothing otherwise. */
  event(value: Record<string, unknown>): void {
    if (this.json) process.stdout.write(JSON.stringify(value) + '\n')
  }

  /** Human status text on stderr (never mixed into --json output). */
  info(text: string): void {
    if (!this.json) process.stderr.write(text + '\n')
  }

  /** A byte-progress bar on a terminal; a no-op in --json mode or without a TTY. */
  bar(label: string, total: number): ProgressBar {
    if (this.json || !this.interactive) return { update() {}, stop() {} }
    const bar = new cliProgress.SingleBar(
      {
        format: `${label} |{bar}| {percentage}% {done}/{size} MB {speed} MB/s {extra}ETA {eta_formatted}`,
        stream: process.stderr,
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

export interface ProgressBar {
  update(bytes: number, extra?: string): void
  stop(): void
}

export function mbText(bytes: number): string {
  return (bytes / 1e6).toFixed(bytes < 1e7 ? 2 : 0)
}

export function sizeText(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB']
  let value = bytes
  let unit = 0
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000
    unit++
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`
}

/** Renders rows as aligned columns. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()
  return [line(header), ...rows.map(line)].join('\n')
}
