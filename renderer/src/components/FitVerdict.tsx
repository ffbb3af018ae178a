import type { FitVerdict as Fit } from '../../../shared/api.js'
import { formatBytes } from '../format.js'

const LABEL = { fits: 'Fits in memory', tight: 'Tight fit', wontFit: 'Will not fit' } as const

/** The fits-in-memory verdict, shown before a model is loaded. */
export function FitVerdict({ fit }: { fit: Fit }) {
  return (
    <div className={`fit fit-${fit.verdict}`} data-testid="fit-verdict" data-verdict={fit.verdict} role="status">
      <strong>{LABEL[fit.verdict]}</strong>
      <span className="fit-numbers">
        Needs {formatBytes(fit.needRam)} of RAM{fit.needVram > 0 ? ` and ${formatBytes(fit.needVram)} of VRAM` : ''}; {formatBytes(fit.freeRam)} free
        {fit.freeVram > 0 ? `, ${formatBytes(fit.freeVram)} VRAM free` : ''}.
      </span>
      {fit.summary && (
        <details className="fit-details">
          <summary>Details</summary>
          {fit.summary}
        </details>
      )}
      {fit.verdict === 'wontFit' && <span>Pick a smaller model or quantization, or close other programs.</span>}
      {fit.verdict === 'tight' && <span>It may load, but the machine could slow down or run out of memory.</span>}
    </div>
  )
}
