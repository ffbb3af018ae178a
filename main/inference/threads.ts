// How many CPU threads llama.cpp should use. node-llama-cpp defaults to 4 on the CPU, which on a
// 2-core machine is about 100× slower than 2: llama.cpp's threads spin and wait for each other,
// so more threads than real cores is ruinous. Grove uses the smallest of the cores this process
// may run on (affinity), the container's CPU quota and the physical (math) cores.
import { readFileSync } from 'node:fs'
import { availableParallelism, cpus } from 'node:os'

/** Threads for llama.cpp; `mathCores` is node-llama-cpp's `llama.cpuMathCores` when known. */
export function defaultThreads(mathCores?: number): number {
  const physical = mathCores !== undefined && mathCores > 0 ? mathCores : physicalCores()
  return Math.max(1, Math.min(availableParallelism(), physical, cgroupCpuLimit() ?? Infinity))
}

/** Physical cores (hyper-threads not counted) where the OS says; else the logical count. */
export function physicalCores(): number {
  if (process.platform === 'linux') {
    try {
      const text = readFileSync('/proc/cpuinfo', 'utf8')
      const cores = new Set<string>()
      let physicalId = '0'
      for (const line of text.split('\n')) {
        const [key = '', value = ''] = line.split(':').map((s) => s.trim())
        if (key === 'physical id') physicalId = value
        else if (key === 'core id') cores.add(`${physicalId}:${value}`)
      }
      if (cores.size > 0) return cores.size
    } catch {
      // fall through
    }
  }
  return Math.max(1, cpus().length)
}

/** A cgroup v2 CPU quota (`cpu.max`), rounded up to whole cores; undefined when unlimited. */
export function cgroupCpuLimit(): number | undefined {
  if (process.platform !== 'linux') return undefined
  try {
    const [quota, period] = readFileSync('/sys/fs/cgroup/cpu.max', 'utf8').trim().split(/\s+/)
    if (quota === undefined || quota === 'max' || period === undefined) return undefined
    const cores = Number(quota) / Number(period)
    return Number.isFinite(cores) && cores > 0 ? Math.max(1, Math.ceil(cores)) : undefined
  } catch {
    return undefined
  }
}
