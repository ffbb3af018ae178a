/** An accessible progress bar; indeterminate while the total is unknown. */
export function ProgressBar({ value, total, label, tone }: { value: number; total: number | null; label: string; tone?: 'ok' | 'paused' | 'error' }) {
  const pct = total !== null && total > 0 ? Math.min(100, (value / total) * 100) : null
  return (
    <div
      className={`progress${pct === null ? ' indeterminate' : ''}${tone ? ` tone-${tone}` : ''}`}
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={pct === null ? undefined : Math.round(pct)}
      aria-valuetext={pct === null ? 'waiting for size' : `${Math.round(pct)}%`}
    >
      <div className="progress-fill" style={{ width: pct === null ? undefined : `${pct}%` }} />
    </div>
  )
}
