import { formatSpeed } from '../format.js'

/** A tiny speed-over-time plot of [unix ms, bytes/s] samples. */
export function Sparkline({ samples, width = 160, height = 36 }: { samples: readonly (readonly [number, number])[]; width?: number; height?: number }) {
  if (samples.length < 2) {
    return <svg className="sparkline" width={width} height={height} aria-hidden="true" />
  }
  const t0 = samples[0]![0]
  const t1 = samples[samples.length - 1]![0]
  const span = Math.max(1, t1 - t0)
  const max = Math.max(1, ...samples.map((s) => s[1]))
  const pad = 2
  const points = samples.map(([t, v]) => {
    const x = pad + ((t - t0) / span) * (width - 2 * pad)
    const y = height - pad - (v / max) * (height - 2 * pad)
    return `${x.toFixed(1)},${y.toFixed(1)}`
  })
  const area = `M${pad},${height - pad} L${points.join(' L')} L${width - pad},${height - pad} Z`
  return (
    <svg className="sparkline" width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img" aria-label={`Speed over the last ${Math.round(span / 1000)} s, peak ${formatSpeed(max)}`}>
      <title>{`Peak ${formatSpeed(max)}`}</title>
      <path d={area} className="spark-area" />
      <polyline points={points.join(' ')} className="spark-line" fill="none" />
    </svg>
  )
}
