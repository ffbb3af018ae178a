// One download: progress bar, speed, ETA, peers, pause/resume and a small speed plot.
import { useState } from 'react'
import type { Transfer } from '../../../shared/api.js'
import { useClient } from '../api/hooks.js'
import { formatBytes, formatDuration, formatSpeed } from '../format.js'
import { href } from '../router.js'
import { Badge } from './Badges.js'
import { ErrorNotice } from './ErrorNotice.js'
import { GroveCallError } from '../api/client.js'
import { ProgressBar } from './ProgressBar.js'
import { Sparkline } from './Sparkline.js'

const STATE_LABEL: Record<Transfer['state'], string> = {
  connecting: 'Finding seeders',
  downloading: 'Downloading',
  verifying: 'Verifying',
  paused: 'Paused',
  done: 'Done',
  error: 'Failed'
}

const STATE_TONE = { connecting: 'info', downloading: 'info', verifying: 'info', paused: 'neutral', done: 'ok', error: 'bad' } as const

export function TransferCard({ transfer: t, showName = true }: { transfer: Transfer; showName?: boolean }) {
  const client = useClient()
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<unknown>(null)
  const act = async (what: 'transfers.pause' | 'transfers.resume') => {
    setBusy(true)
    setError(null)
    try {
      await client.call(what, { link: t.link })
    } catch (err) {
      setError(err)
    } finally {
      setBusy(false)
    }
  }
  const active = t.state === 'downloading' || t.state === 'connecting' || t.state === 'verifying'
  const name = t.name ?? t.link
  return (
    <div className={`transfer state-${t.state}`} data-testid="transfer" data-link={t.link} data-state={t.state}>
      <div className="transfer-head">
        {showName && (
          <a href={href('model', t.link)} className="item-name">
            {name}
          </a>
        )}
        <Badge tone={STATE_TONE[t.state]}>{STATE_LABEL[t.state]}</Badge>
        <span className="spacer" />
        {active && t.state !== 'verifying' && (
          <button type="button" className="btn btn-small" onClick={() => void act('transfers.pause')} disabled={busy} aria-label={`Pause ${name}`}>
            Pause
          </button>
        )}
        {(t.state === 'paused' || t.state === 'error') && (
          <button type="button" className="btn btn-small btn-primary" onClick={() => void act('transfers.resume')} disabled={busy} aria-label={`${t.state === 'error' ? 'Retry' : 'Resume'} ${name}`}>
            {t.state === 'error' ? 'Retry' : 'Resume'}
          </button>
        )}
        {t.state === 'done' && (
          <a className="btn btn-small btn-primary" href={href('chat', null, { model: t.link })}>
            Chat with it
          </a>
        )}
      </div>
      <ProgressBar value={t.bytes} total={t.total} label={`Download of ${name}`} tone={t.state === 'paused' ? 'paused' : t.state === 'error' ? 'error' : t.state === 'done' ? 'ok' : undefined} />
      <div className="transfer-stats">
        <span data-testid="transfer-bytes">
          {formatBytes(t.bytes)} of {formatBytes(t.total)}
          {t.total ? ` (${Math.floor((t.bytes / t.total) * 100)}%)` : ''}
        </span>
        {active && <span>{formatSpeed(t.bytesPerSecond)}</span>}
        {active && <span>{t.etaSeconds !== null ? `${formatDuration(t.etaSeconds)} left` : 'time left unknown'}</span>}
        {t.state !== 'done' && (
          <span>
            {t.peers} {t.peers === 1 ? 'peer' : 'peers'}
          </span>
        )}
        <span className="spacer" />
        <Sparkline samples={t.speedHistory} />
      </div>
      {t.state === 'connecting' && t.peers === 0 && <p className="muted small">Looking for peers that seed this model. It starts as soon as one is online.</p>}
      {t.error && <ErrorNotice error={new GroveCallError(t.error.code, t.error.message, 'transfer')} compact />}
      <ErrorNotice error={error} compact />
    </div>
  )
}
