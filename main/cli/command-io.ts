// Where a command's output goes and what it runs in: this process's terminal, or the terminal of
// a client that forwarded the command to the running Grove (see ./forward.ts).

/** Where a command's output goes and what it runs in: this process's terminal, or a forwarding client's. */
export interface CommandIO {
  stdout(text: string): void
  stderr(text: string): void
  /** stderr is a terminal (progress bars are drawn), and its width. */
  interactive: boolean
  columns?: number
  /** The folder relative paths on the command line are relative to. */
  cwd: string
  /** stdin, when the client already read it (forwarded `grove run --prompt -`). */
  stdin?: string
}

export function processIO(): CommandIO {
  return {
    stdout: (text) => void process.stdout.write(text),
    stderr: (text) => void process.stderr.write(text),
    interactive: Boolean(process.stderr.isTTY),
    columns: process.stderr.columns,
    cwd: process.cwd()
  }
}
