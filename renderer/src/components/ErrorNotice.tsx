// An error as a person can act on it: what went wrong (Grove's one-line message) and what to do next.
import type { ReactNode } from 'react'
import { GroveCallError, type ClientErrorCode } from '../api/client.js'

const NEXT_STEP: Partial<Record<ClientErrorCode, string>> = {
  NETWORK: 'Check that Grove is still running (`grove serve` or the app), then retry. The page reconnects on its own.',
  BAD_LINK: 'Check the link: it looks like grove:// followed by 52 letters and digits.',
  BAD_INPUT: 'Check the fields above and try again.',
  NOT_GGUF: 'Pick a .gguf file: Grove shares GGUF models and LoRA adapters.',
  BAD_GGUF: 'This GGUF file is damaged or malformed, and llama.cpp could not use it: Grove did not share or load it. Get a fresh copy of the file.',
  BAD_MANIFEST: 'The publisher’s manifest is malformed. Try another seeder’s copy, or ask the publisher to share it again.',
  UNSAFE_PATH: 'The model names files outside its own folder; Grove refused it. Do not use this model.',
  HASH_MISMATCH: 'The bytes did not match the published checksum. Retry: Grove fetches from other seeders.',
  NO_PEERS: 'Nobody who has this model is online right now. Leave Grove running, or join the room where it is shared (Discover → Rooms).',
  TIMEOUT: 'Grove waited too long. Check Peers to see whether anyone is connected, then retry.',
  NOT_FOUND: 'It is not in your library or the catalog yet. Open Discover to find it, or check the link.',
  IN_USE: 'Another Grove process uses this home folder. Close it (or use another --home) and retry.',
  DISK_FULL: 'Free some disk space — Library → Reclaim removes seeding copies you no longer serve — then retry.',
  CLOSED: 'Grove is shutting down. Start it again and retry.',
  INCOMPATIBLE_ADAPTER: 'This adapter was made for a different base model. Pick the base it names, or remove the adapter.',
  WONT_FIT: 'Not enough memory for this model. Pick a smaller model or quantization, or a shorter context, or close other programs.',
  WORKER_CRASHED: 'The model process stopped. Retry; if it happens again the file may be damaged — reclaim and download it again.',
  CONTEXT_OVERFLOW: 'The conversation is longer than the model’s context. Start a new chat or send a shorter message.',
  LICENSE_NOT_ACCEPTED: 'Open the model’s page and accept its licence, then try again.',
  UNAUTHORIZED: 'Open Grove with the address `grove serve` printed, including its ?token=…',
  FORBIDDEN: 'This server does not allow that from here. Use the address `grove serve` printed, or add --allow-host for this name.',
  BUSY: 'Grove is already running as many generations as it queues. Wait a moment and retry.',
  INTERNAL: 'Retry. If it keeps happening, the log of the Grove process says more.'
}

export function errorCode(error: unknown): ClientErrorCode {
  return error instanceof GroveCallError ? error.code : 'INTERNAL'
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message
  return String(error)
}

export function nextStep(code: ClientErrorCode): string {
  return NEXT_STEP[code] ?? NEXT_STEP.INTERNAL ?? ''
}

interface Props {
  error: unknown
  /** What the person was doing, e.g. "Could not load your library". */
  title?: string
  onRetry?: () => void
  children?: ReactNode
  compact?: boolean
}

export function ErrorNotice({ error, title, onRetry, children, compact }: Props) {
  if (error === null || error === undefined) return null
  const code = errorCode(error)
  return (
    <div className={`notice notice-error${compact ? ' compact' : ''}`} role="alert" data-testid="error" data-code={code}>
      <div className="notice-body">
        {title && <strong className="notice-title">{title}</strong>}
        <p className="notice-message">{errorMessage(error)}</p>
        <p className="notice-hint">{nextStep(code)}</p>
        {children}
      </div>
      {onRetry && (
        <button type="button" className="btn" onClick={onRetry}>
          Retry
        </button>
      )}
    </div>
  )
}
