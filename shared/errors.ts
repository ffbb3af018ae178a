// Coded errors: every failure Grove reports carries a stable `code` that scripts, the UI and
// the API transports can switch on, and a one-line message a person can act on.

export const ErrorCodes = [
  'BAD_INPUT',
  'BAD_LINK',
  'NOT_GGUF',
  /** A GGUF file whose header or tensors are malformed, or that llama.cpp refuses to open. */
  'BAD_GGUF',
  'BAD_MANIFEST',
  'UNSAFE_PATH',
  'HASH_MISMATCH',
  'NO_PEERS',
  'TIMEOUT',
  'NOT_FOUND',
  'IN_USE',
  'DISK_FULL',
  'CLOSED',
  'INCOMPATIBLE_ADAPTER',
  'WONT_FIT',
  'WORKER_CRASHED',
  'CONTEXT_OVERFLOW',
  'LICENSE_NOT_ACCEPTED',
  'UNAUTHORIZED',
  'FORBIDDEN',
  /** Too much work queued already (generations): try again later. */
  'BUSY',
  'INTERNAL'
] as const

export type ErrorCode = (typeof ErrorCodes)[number]

export class GroveError extends Error {
  readonly code: ErrorCode

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'GroveError'
    this.code = code
  }
}

export function isGroveError(err: unknown): err is GroveError {
  return err instanceof GroveError
}

/** The `{ code, message }` shape errors travel in across IPC and HTTP. */
export interface ErrorPayload {
  code: ErrorCode
  message: string
}

export function toErrorPayload(err: unknown): ErrorPayload {
  if (isGroveError(err)) return { code: err.code, message: err.message }
  const message = err instanceof Error ? err.message : String(err)
  return { code: 'INTERNAL', message }
}

/** What a client is told of an error that is not a GroveError; the detail goes to the log. */
export const INTERNAL_ERROR_MESSAGE = 'Internal error (see the server log)'

/**
 * The `{ code, message }` a client (a browser, an HTTP client, the UI) may see. A GroveError's
 * message was written for people and travels as it is. Anything else (a bug, a library's error)
 * may carry paths, internals or secrets: the client gets INTERNAL with a generic message, and
 * `log` gets the detail (the stack when there is one).
 */
export function toClientError(err: unknown, log: (detail: string) => void): ErrorPayload {
  if (isGroveError(err)) return { code: err.code, message: err.message }
  log(err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : String(err))
  return { code: 'INTERNAL', message: INTERNAL_ERROR_MESSAGE }
}

/** An error's first line: what a one-line message quotes of a lower layer's error. */
export function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err)
  return message.split('\n')[0] ?? message
}
