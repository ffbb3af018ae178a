// Will a model fit this machine? Before loading, estimate what the weights and the context need
// in RAM and VRAM (node-llama-cpp's GGUF insights) and compare it with what is free. A model
// that cannot fit is refused with the figures rather than left to crash or swap the machine to
// a halt; one that fits only if other programs give memory back is loaded with a warning.
import { bytesText } from '../../shared/units.js'
import { InsufficientMemoryError, type GgufInsights, type Llama } from 'node-llama-cpp'
import { GroveError } from '../../shared/errors.js'
import type { FitReport } from './protocol.js'

export interface MemoryState {
  ramTotal: number
  ramFree: number
  swapFree: number
  vramTotal: number
  vramFree: number
  /** On unified memory (Apple silicon) VRAM is RAM: what the GPU takes, the CPU does not get. */
  unified: boolean
}

export interface FitNeeds {
  contextSize: number
  gpuLayers: number
  totalLayers: number
  model: { ram: number; vram: number }
  context: { ram: number; vram: number }
  /** Bytes of the LoRA adapters (held in RAM, or VRAM when offloaded; counted as RAM). */
  adapters: number
}

export interface EstimateOptions {
  contextSize: number
  batchSize?: number
  /** Layers to offload; 'auto': as many as fit with this context (0 without a GPU). */
  gpuLayers?: number | 'auto' | 'max'
  adapterBytes?: number
  /** Treat at most this much RAM as available (and no swap). */
  memoryBudgetBytes?: number
}

/** Resolves the GPU layers and estimates the memory a model + context need on this machine. */
export async function estimateFit(llama: Llama, insights: GgufInsights, opts: EstimateOptions): Promise<FitReport> {
  const gpuLayers = await resolveGpuLayers(llama, insights, opts)
  const model = await insights.estimateModelResourceRequirementsV2({ gpuLayers })
  const context = await insights.estimateContextResourceRequirementsV2({
    contextSize: opts.contextSize,
    modelGpuLayers: gpuLayers,
    batchSize: opts.batchSize,
    sequences: 1
  })
  const memory = await memoryState(llama, opts.memoryBudgetBytes)
  return judgeFit(
    {
      contextSize: opts.contextSize,
      gpuLayers,
      totalLayers: insights.totalLayers,
      model: { ram: model.cpuRam, vram: model.gpuVram },
      context: { ram: context.cpuRam, vram: context.gpuVram },
      adapters: opts.adapterBytes ?? 0
    },
    memory
  )
}

async function resolveGpuLayers(llama: Llama, insights: GgufInsights, opts: EstimateOptions): Promise<number> {
  if (llama.gpu === false || !llama.supportsGpuOffloading) return 0
  if (typeof opts.gpuLayers === 'number') return Math.min(opts.gpuLayers, insights.totalLayers)
  if (opts.gpuLayers === 'max') return insights.totalLayers
  try {
    const resolved = await insights.configurationResolver.resolveModelGpuLayersV2({ fitContext: { contextSize: opts.contextSize } })
    return resolved.gpuLayers
  } catch (err) {
    if (err instanceof InsufficientMemoryError) return 0
    throw err
  }
}

export async function memoryState(llama: Llama, budget?: number): Promise<MemoryState> {
  const [ram, swap, vram] = await Promise.all([llama.getRamState(), llama.getSwapState(), llama.getVramState()])
  const swapTotal = Number.isFinite(swap.maxSize) ? swap.maxSize : swap.allocated
  const state: MemoryState = {
    ramTotal: ram.total,
    ramFree: ram.free,
    swapFree: Math.max(0, swapTotal - swap.used),
    vramTotal: vram.total,
    vramFree: vram.free,
    unified: vram.unifiedSize > 0
  }
  if (budget !== undefined) {
    state.ramTotal = Math.min(state.ramTotal, budget)
    state.ramFree = Math.min(state.ramFree, budget)
    state.swapFree = 0
  }
  return state
}

/** The verdict for these needs on this memory (pure: tests give it any machine). */
export function judgeFit(needs: FitNeeds, memory: MemoryState): FitReport {
  const vram = needs.model.vram + needs.context.vram
  const ram = needs.model.ram + needs.context.ram + needs.adapters + (memory.unified ? vram : 0)
  let verdict: FitReport['verdict']
  if (ram <= memory.ramFree && vram <= memory.vramFree) verdict = 'fits'
  else if (ram > memory.ramTotal + memory.swapFree || vram > memory.vramTotal) verdict = 'wontFit'
  else verdict = 'tight'
  const report: FitReport = {
    verdict,
    contextSize: needs.contextSize,
    gpuLayers: needs.gpuLayers,
    totalLayers: needs.totalLayers,
    model: needs.model,
    context: needs.context,
    adapters: needs.adapters,
    need: { ram, vram },
    available: { ramFree: memory.ramFree, ramTotal: memory.ramTotal, swapFree: memory.swapFree, vramFree: memory.vramFree, vramTotal: memory.vramTotal },
    summary: ''
  }
  report.summary = describeFit(report)
  return report
}

/** One line with the figures, e.g. "needs about 1.3 GB of RAM (weights 1.1 GB + context 0.2 GB); 18.2 GB free of 25.3 GB". */
export function describeFit(r: FitReport): string {
  const parts = [`weights ${bytesText(r.model.ram)}`, `context ${bytesText(r.context.ram)} (${r.contextSize} tokens)`]
  if (r.adapters > 0) parts.push(`adapters ${bytesText(r.adapters)}`)
  let text = `needs about ${bytesText(r.need.ram)} of RAM (${parts.join(' + ')})`
  if (r.need.vram > 0 || r.gpuLayers > 0) {
    text += ` and ${bytesText(r.need.vram)} of VRAM (${r.gpuLayers} of ${r.totalLayers} layers on the GPU)`
  }
  text += `; ${bytesText(r.available.ramFree)} of RAM free of ${bytesText(r.available.ramTotal)}`
  if (r.available.swapFree > 0) text += ` (+${bytesText(r.available.swapFree)} swap)`
  if (r.available.vramTotal > 0) text += `, ${bytesText(r.available.vramFree)} of VRAM free of ${bytesText(r.available.vramTotal)}`
  else text += ', no GPU'
  return text
}

/** Throws WONT_FIT with the figures when the model cannot fit. */
export function assertFits(report: FitReport, what: string): void {
  if (report.verdict === 'wontFit') {
    throw new GroveError('WONT_FIT', `${what} will not fit in this machine's memory: it ${report.summary}. Try a smaller context (--context) or a smaller quantization`)
  }
}

