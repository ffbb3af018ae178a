// `grove run`: run a model from the library (link or name) or a .gguf file on this machine, with
// LoRA adapters, through the inference worker. Streams the text to stdout as it comes; with
// --json prints one object { text, tokens, timings: { loadMs, firstTokenMs, tokensPerSecond } }.
// Needs no network and no home lock: it only reads the library index.
import { existsSync } from 'node:fs'
import type { Command } from 'commander'
import { GroveError } from '../../../shared/errors.js'
import type { GenerateInput, LoadInfo } from '../../inference/protocol.js'
import { parseAdapterArg, resolveLoadSpec } from '../../inference/resolve.js'
import { InferenceService, type GenerateResult } from '../../inference/service.js'
import type { CommandContext } from '../context.js'
import { inertLine } from '../terminal-text.js'
import { collect } from './share.js'

interface RunFlags {
  prompt: string
  system?: string
  adapter: string[]
  maxTokens: string
  seed?: string
  temperature?: string
  topK?: string
  topP?: string
  minP?: string
  repeatPenalty?: string
  context?: string
  threads?: string
  mode: string
  cpu?: boolean
  ignoreBaseHash?: boolean
}

const MODES = ['auto', 'chat', 'completion'] as const

export function registerRun(program: Command, context: () => CommandContext): void {
  program
    .command('run <model>')
    .description('run a model (grove:// link, library name or .gguf file) on this machine, with LoRA adapters; streams the text')
    .requiredOption('--prompt <text>', 'the prompt ("-" reads it from stdin)')
    .option('--system <text>', 'a system prompt (runs the model as a chat)')
    .option('--adapter <adapter[:scale]>', 'apply a LoRA adapter (link, library name or file), optionally with a scale: 1 as trained (default), 0 the base model; repeatable', collect, [])
    .option('--max-tokens <n>', 'at most this many new tokens (always within the context)', '256')
    .option('--seed <n>', 'sampling seed: the same seed and settings give the same tokens (default: random, reported with --json)')
    .option('--temperature <t>', 'sampling temperature; 0 is greedy and deterministic (default 0.8)')
    .option('--top-k <n>', 'sample from the k most likely tokens')
    .option('--top-p <p>', 'nucleus sampling probability mass')
    .option('--min-p <p>', 'drop tokens below this fraction of the most likely one')
    .option('--repeat-penalty <r>', 'penalise tokens repeated in the last 64 (1: none)')
    .option('--context <n>', "context length in tokens (default: the model's training context, at most 4096)")
    .option('--threads <n>', 'CPU threads (default: the physical cores this process may use)')
    .option('--mode <mode>', `auto (chat when the model has a chat template or --system is given) | chat | completion`, 'auto')
    .option('--cpu', 'do not use a GPU even when there is one')
    .option('--ignore-base-hash', "apply an adapter whose manifest names another base model's sha256 (its shapes are still checked)")
    .action(async (model: string, flags: RunFlags) => {
      const ctx = context()
      const out = ctx.out
      const mode = flags.mode as (typeof MODES)[number]
      if (!(MODES as readonly string[]).includes(mode)) throw new GroveError('BAD_INPUT', `--mode must be one of ${MODES.join(', ')}`)
      const prompt = flags.prompt === '-' ? await ctx.readStdin() : flags.prompt
      // A file named on the command line is the caller's: relative to its folder (the service's may differ).
      const local = (target: string) => (existsSync(ctx.path(target)) ? ctx.path(target) : target)
      const spec = await resolveLoadSpec(
        { model: local(model), adapters: flags.adapter.map(parseAdapterArg).map((a) => ({ ...a, target: local(a.target) })), home: ctx.options.home },
        {
          contextSize: int(flags.context, '--context', 16, 1 << 22),
          threads: int(flags.threads, '--threads', 1, 1024),
          ignoreBaseHash: Boolean(flags.ignoreBaseHash)
        }
      )
      const options = {
        maxTokens: int(flags.maxTokens, '--max-tokens', 1, 1 << 22),
        seed: int(flags.seed, '--seed', 0, 2 ** 32 - 1),
        temperature: num(flags.temperature, '--temperature', 0, 5),
        topK: int(flags.topK, '--top-k', 0, 100_000),
        topP: num(flags.topP, '--top-p', 0, 1),
        minP: num(flags.minP, '--min-p', 0, 1),
        repeatPenalty: num(flags.repeatPenalty, '--repeat-penalty', 0, 10)
      }
      const input: GenerateInput =
        mode === 'completion' && flags.system === undefined
          ? { kind: 'completion', prompt }
          : mode === 'chat' || (mode === 'completion' && flags.system !== undefined)
            ? { kind: 'chat', messages: [...(flags.system !== undefined ? [{ role: 'system' as const, content: flags.system }] : []), { role: 'user' as const, content: prompt }] }
            : { kind: 'auto', prompt, system: flags.system }

      const service = new InferenceService({ gpu: flags.cpu ? false : 'auto' })
      const stop = new AbortController()
      let signals = 0
      const onSignal = () => {
        if (++signals > 1) process.exit(130)
        stop.abort()
      }
      // In the service, the client's Ctrl-C arrives as the command's signal; never the service's own.
      const inService = ctx.inService
      if (inService) inService.signal.addEventListener('abort', () => stop.abort(), { once: true })
      else {
        process.on('SIGINT', onSignal)
        process.on('SIGTERM', onSignal)
      }
      let streamed = false
      try {
        out.info(`Loading ${inertLine(spec.modelName ?? spec.modelPath)}${spec.adapters?.length ? ` with ${spec.adapters.length} adapter${spec.adapters.length > 1 ? 's' : ''}` : ''}…`)
        const result = await service.generate(
          { spec, input, options },
          {
            signal: stop.signal,
            onLoaded: (load) => out.info(describeLoad(load)),
            onToken: ({ text }) => {
              if (out.json || text.length === 0) return
              streamed = true
              // Generated text is untrusted too: random or hostile weights emit any bytes.
              out.write(text)
            }
          }
        )
        if (!out.json && streamed) out.write('\n')
        if (out.json) out.result(toJson(result), '')
        out.info(describeResult(result))
      } finally {
        process.off('SIGINT', onSignal)
        process.off('SIGTERM', onSignal)
        await service.close()
      }
    })
}

function toJson(r: GenerateResult) {
  const round = (n: number) => Math.round(n * 100) / 100
  return {
    text: r.text,
    tokens: r.tokens,
    timings: { loadMs: round(r.timings.loadMs), firstTokenMs: round(r.timings.firstTokenMs), tokensPerSecond: round(r.timings.tokensPerSecond), totalMs: round(r.timings.totalMs) },
    promptTokens: r.promptTokens,
    stopReason: r.stopReason,
    mode: r.mode,
    seed: r.seed ?? null,
    model: {
      path: r.load.modelPath,
      name: r.load.name ?? null,
      architecture: r.load.architecture,
      parameterCount: r.load.parameterCount ?? null,
      contextSize: r.load.contextSize,
      threads: r.load.threads,
      gpu: r.load.gpu,
      gpuLayers: r.load.gpuLayers
    },
    adapters: r.load.adapters,
    fit: { verdict: r.load.fit.verdict, summary: r.load.fit.summary, need: r.load.fit.need, available: r.load.fit.available }
  }
}

function describeLoad(load: LoadInfo): string {
  const where = load.gpu === false || load.gpuLayers === 0 ? `CPU, ${load.threads} thread${load.threads === 1 ? '' : 's'}` : `${load.gpu}, ${load.gpuLayers} layers on the GPU`
  const fit = load.fit.verdict === 'tight' ? `Memory is tight: it ${load.fit.summary}; other programs may need to free memory` : `Memory: it ${load.fit.summary}`
  const adapters = load.adapters.map((a) => `adapter ${inertLine(a.name ?? a.path)} ×${a.scale}${a.baseHash === 'ignored' ? ' (base hash differs: applied on request)' : a.baseHash === 'verified' ? ' (base verified)' : ''}`)
  return [`Loaded ${inertLine(load.name ?? load.modelPath)} (${inertLine(load.architecture)}${load.parameterCount ? `, ${paramsText(load.parameterCount)} parameters` : ''}; ${load.contextSize}-token context; ${where}) in ${Math.round(load.loadMs)} ms`, ...adapters, fit].join('\n')
}

function paramsText(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toFixed(1)}B` : n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : `${(n / 1e3).toFixed(0)}K`
}

function describeResult(r: GenerateResult): string {
  const stop = r.stopReason === 'cancelled' ? ', stopped' : r.stopReason === 'maxTokens' ? ', reached --max-tokens' : ''
  return `${r.tokens.length} tokens, ${r.timings.tokensPerSecond.toFixed(1)} tokens/s, first token ${Math.round(r.timings.firstTokenMs)} ms, load ${Math.round(r.timings.loadMs)} ms, seed ${r.seed ?? '-'}${stop}`
}

function int(text: string | undefined, name: string, min: number, max: number): number | undefined {
  if (text === undefined) return undefined
  const value = Number(text)
  if (!Number.isInteger(value) || value < min || value > max) throw new GroveError('BAD_INPUT', `${name} must be a whole number from ${min} to ${max}`)
  return value
}

function num(text: string | undefined, name: string, min: number, max: number): number | undefined {
  if (text === undefined) return undefined
  const value = Number(text)
  if (!Number.isFinite(value) || value < min || value > max) throw new GroveError('BAD_INPUT', `${name} must be a number from ${min} to ${max}`)
  return value
}

