// The messages between Grove and its GGUF probe process (probe-worker.ts), as zod schemas. The
// probe reads untrusted files, so what comes back from it is parsed as untrusted too.
import { z } from 'zod'
import { ErrorCodes } from '../../shared/errors.js'

/** How far llama.cpp opens the file: not at all, its vocabulary, or the whole model. */
export const OPEN_DEPTHS = ['none', 'vocab', 'full'] as const
export type OpenDepth = (typeof OPEN_DEPTHS)[number]

export const ProbeRequest = z.object({
  type: z.literal('probe'),
  path: z.string().min(1).max(4096),
  open: z.enum(OPEN_DEPTHS)
})
export type ProbeRequest = z.infer<typeof ProbeRequest>

export const ProbeReply = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready') }),
  /** Why llama.cpp refuses the file, or null when it opens it. */
  z.object({ type: z.literal('result'), problem: z.string().max(2000).nullable() }),
  z.object({ type: z.literal('error'), error: z.object({ code: z.enum(ErrorCodes), message: z.string().max(2000) }) })
])
export type ProbeReply = z.infer<typeof ProbeReply>
