// Transfers: progress, speed, ETA, pause/resume and a speed plot for every download.
import type { CallResult } from '../../../shared/api.js'
import type { CallState } from '../api/hooks.js'
import { EmptyState } from '../components/EmptyState.js'
import { ErrorNotice } from '../components/ErrorNotice.js'
import { Loading, PageHeader } from '../components/PageHeader.js'
import { TransferCard } from '../components/TransferCard.js'
import { formatSpeed } from '../format.js'

const ORDER = { downloading: 0, verifying: 1, connecting: 2, paused: 3, error: 4, done: 5 } as const

export function TransfersView({ transfers }: { transfers: CallState<CallResult<'transfers.list'>> }) {
  const list = [...(transfers.data ?? [])].sort((a, b) => ORDER[a.state] - ORDER[b.state])
  const active = list.filter((t) => t.state === 'downloading')
  const speed = active.reduce((s, t) => s + t.bytesPerSecond, 0)
  return (
    <section className="view" data-testid="view-transfers">
      <PageHeader title="Transfers" subtitle={active.length > 0 ? `${active.length} downloading at ${formatSpeed(speed)}` : 'Downloads from peers'} />
      <ErrorNotice error={transfers.error} title="Could not list transfers" onRetry={transfers.reload} />
      {transfers.loading && !transfers.data ? (
        <Loading what="transfers" />
      ) : list.length === 0 && !transfers.error ? (
        <EmptyState title="Nothing is downloading" testId="transfers-empty" action={<a className="btn btn-primary" href="#/discover">Find a model</a>}>
          Open a model in Discover and choose Download. Its progress shows here, and it keeps seeding once it is done.
        </EmptyState>
      ) : (
        <div className="transfer-list">
          {list.map((t) => (
            <TransferCard key={t.link} transfer={t} />
          ))}
        </div>
      )}
    </section>
  )
}
