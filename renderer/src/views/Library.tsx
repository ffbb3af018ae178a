// Library: my models and adapters — size, disk, seeding on/off, share a file, reclaim disk.
import { useState } from 'react'
import type { LibraryItem } from '../../../shared/api.js'
import { useClient, useLiveList } from '../api/hooks.js'
import { Badge, KindBadge } from '../components/Badges.js'
import { CopyButton } from '../components/CopyButton.js'
import { Dialog } from '../components/Dialog.js'
import { EmptyState } from '../components/EmptyState.js'
import { ErrorNotice } from '../components/ErrorNotice.js'
import { Loading, PageHeader } from '../components/PageHeader.js'
import { ShareForm } from '../components/ShareForm.js'
import { useToast } from '../components/Toasts.js'
import { formatBytes, plural } from '../format.js'
import { href } from '../router.js'

export function LibraryView() {
  const library = useLiveList('library.list', 'library')
  const [sharing, setSharing] = useState(false)
  const items = library.data ?? []
  const blocks = items.reduce((s, i) => s + i.disk.blockBytes, 0)
  const files = items.reduce((s, i) => s + i.disk.fileBytes, 0)

  return (
    <section className="view" aria-labelledby="library-title" data-testid="view-library">
      <PageHeader
        title={<span id="library-title">Library</span>}
        subtitle={items.length > 0 ? `${plural(items.filter((i) => i.kind === 'model').length, 'model')}, ${plural(items.filter((i) => i.kind === 'adapter').length, 'adapter')} · ${formatBytes(blocks + files)} on disk (${formatBytes(blocks)} seeding copies, ${formatBytes(files)} model files)` : 'Models and adapters on this machine'}
        actions={
          <button type="button" className="btn btn-primary" onClick={() => setSharing((s) => !s)} aria-expanded={sharing}>
            {sharing ? 'Close' : 'Share a model'}
          </button>
        }
      />
      {sharing && (
        <div className="panel">
          <h2 className="panel-title">Share a model or adapter</h2>
          <ShareForm onShared={() => setSharing(false)} onCancel={() => setSharing(false)} />
        </div>
      )}
      <ErrorNotice error={library.error} title="Could not load your library" onRetry={library.reload} />
      {library.loading && !library.data ? (
        <Loading what="your library" />
      ) : items.length === 0 && !library.error ? (
        <EmptyState
          title="Your library is empty"
          action={
            <div className="row">
              <button type="button" className="btn btn-primary" onClick={() => setSharing(true)}>
                Share a GGUF file
              </button>
              <a className="btn" href="#/discover">
                Find models in Discover
              </a>
            </div>
          }
        >
          Share a model from this machine so others can download it, or download one that peers share.
        </EmptyState>
      ) : (
        <ul className="item-list" aria-label="Library">
          {items.map((item) => (
            <LibraryRow key={item.link} item={item} />
          ))}
        </ul>
      )}
    </section>
  )
}

function LibraryRow({ item }: { item: LibraryItem }) {
  const client = useClient()
  const toast = useToast()
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<unknown>(null)
  const [confirmReclaim, setConfirmReclaim] = useState(false)

  const setSeeding = async (seeding: boolean) => {
    setBusy(true)
    setError(null)
    try {
      await client.call('library.setSeeding', { link: item.link, seeding })
      toast(seeding ? `Seeding ${item.name} again.` : `Stopped seeding ${item.name}.`, 'info')
    } catch (err) {
      setError(err)
    } finally {
      setBusy(false)
    }
  }

  const reclaim = async () => {
    setConfirmReclaim(false)
    setBusy(true)
    setError(null)
    try {
      const { freedBytes } = await client.call('library.reclaim', { link: item.link })
      toast(`Freed ${formatBytes(freedBytes)} from ${item.name}.`)
    } catch (err) {
      setError(err)
    } finally {
      setBusy(false)
    }
  }

  const runnable = item.complete && item.kind === 'model'
  return (
    <li className="item" data-testid="library-item" data-link={item.link}>
      <div className="item-main">
        <div className="item-title">
          <a href={href('model', item.link)} className="item-name">
            {item.name}
          </a>
          <KindBadge kind={item.kind} />
          {item.origin === 'shared' ? <Badge tone="info">Shared by you</Badge> : <Badge>Downloaded</Badge>}
          {!item.complete && <Badge tone="warn">Incomplete</Badge>}
          {item.license && <Badge title="Licence">{item.license}</Badge>}
        </div>
        <div className="item-meta">
          <span>{formatBytes(item.size)}</span>
          {item.disk.inPlace ? (
            <span title="Peers are served out of the .gguf file itself, as BitTorrent seeds: there is no second copy">Seeds from its file in place · {formatBytes(item.disk.fileBytes)} on disk</span>
          ) : (
            <span title="A separate seeding copy (drive blocks) and the loadable .gguf file">
              Disk: {formatBytes(item.disk.blockBytes)} seeding copy + {formatBytes(item.disk.fileBytes)} file
            </span>
          )}
          {item.path && (
            <span className="mono ellipsis" title={item.path}>
              {item.path}
            </span>
          )}
        </div>
        <div className="item-meta">
          <code className="mono ellipsis" title={item.link}>
            {item.link}
          </code>
          <CopyButton text={item.link} label="Copy link" />
        </div>
        <ErrorNotice error={error} compact />
      </div>
      <div className="item-actions">
        <label className="switch" title={item.seeding ? 'Peers can download this from you' : 'Not served to peers'}>
          <input type="checkbox" role="switch" checked={item.seeding} disabled={busy} onChange={(e) => void setSeeding(e.target.checked)} aria-label={`Seed ${item.name}`} />
          <span className="switch-track" aria-hidden="true" />
          <span>{item.seeding ? 'Seeding' : 'Not seeding'}</span>
        </label>
        <div className="row">
          {runnable && (
            <a className="btn btn-small" href={href('chat', null, { model: item.link })}>
              Chat
            </a>
          )}
          <a className="btn btn-small" href={href('lineage', item.link)}>
            Lineage
          </a>
          <button type="button" className="btn btn-small btn-ghost" disabled={busy || item.disk.blockBytes === 0} onClick={() => setConfirmReclaim(true)} title={item.disk.inPlace ? 'Seeds from its file in place: there is no separate copy to free' : item.disk.blockBytes === 0 ? 'No seeding copy to free' : 'Free the seeding copy'}>
            Reclaim
          </button>
        </div>
      </div>
      <Dialog
        open={confirmReclaim}
        title={`Reclaim ${formatBytes(item.disk.blockBytes)}?`}
        onClose={() => setConfirmReclaim(false)}
        actions={
          <>
            <button type="button" className="btn" onClick={() => setConfirmReclaim(false)}>
              Keep it
            </button>
            <button type="button" className="btn btn-danger" onClick={() => void reclaim()}>
              Reclaim
            </button>
          </>
        }
      >
        <p>
          This deletes Grove’s seeding copy of <strong>{item.name}</strong>. {item.path ? 'Your .gguf file stays where it is and can still be run, ' : ''}but peers can no longer download it from you until you download or share it
          again.
        </p>
      </Dialog>
    </li>
  )
}
