// Peers: who is connected, their rooms and addresses, bytes up and down — live.
import { useEffect, useMemo, useRef, useState } from 'react'
import type { CallResult, PeerInfo } from '../../../shared/api.js'
import { useCall, type CallState } from '../api/hooks.js'
import { CopyButton } from '../components/CopyButton.js'
import { EmptyState } from '../components/EmptyState.js'
import { ErrorNotice } from '../components/ErrorNotice.js'
import { Loading, PageHeader } from '../components/PageHeader.js'
import { formatBytes, formatSpeed, timeAgo } from '../format.js'

const TRANSPORT_HELP =
  'Direct TCP when this peer can reach the other one by address (same LAN, a server); otherwise the holepunched UDP connection, which is slower.'

interface Rate {
  up: number
  down: number
}

/** Bytes per second per peer, from successive snapshots of the cumulative counters. */
function useRates(peers: PeerInfo[] | undefined): Map<string, Rate> {
  const samples = useRef(new Map<string, { t: number; up: number; down: number; rate: Rate }>())
  const [rates, setRates] = useState(new Map<string, Rate>())
  useEffect(() => {
    if (!peers) return
    const now = Date.now()
    const next = new Map<string, { t: number; up: number; down: number; rate: Rate }>()
    for (const p of peers) {
      const prev = samples.current.get(p.publicKey)
      const dt = prev ? (now - prev.t) / 1000 : 0
      if (prev && dt < 0.5) {
        next.set(p.publicKey, prev) // too soon after the last snapshot to measure
        continue
      }
      const rate = prev ? { up: Math.max(0, (p.uploadedBytes - prev.up) / dt), down: Math.max(0, (p.downloadedBytes - prev.down) / dt) } : { up: 0, down: 0 }
      next.set(p.publicKey, { t: now, up: p.uploadedBytes, down: p.downloadedBytes, rate })
    }
    samples.current = next
    setRates(new Map([...next].map(([k, v]) => [k, v.rate])))
  }, [peers])
  return rates
}

export function PeersView({ peers }: { peers: CallState<CallResult<'peers.list'>> }) {
  const rooms = useCall('rooms.list', {}, String(peers.data?.length ?? 0))
  const rates = useRates(peers.data)
  const [, tick] = useState(0)
  useEffect(() => {
    const t = setInterval(() => tick((x) => x + 1), 10_000)
    return () => clearInterval(t)
  }, [])
  const roomName = useMemo(() => new Map((rooms.data ?? []).map((r) => [r.id, r.name])), [rooms.data])
  const list = peers.data ?? []
  const up = list.reduce((s, p) => s + p.uploadedBytes, 0)
  const down = list.reduce((s, p) => s + p.downloadedBytes, 0)

  return (
    <section className="view" data-testid="view-peers">
      <PageHeader
        title="Peers"
        subtitle={list.length > 0 ? `${list.length} connected · ${formatBytes(up)} sent · ${formatBytes(down)} received` : 'Other Grove instances you are connected to'}
      />
      <ErrorNotice error={peers.error} title="Could not list peers" onRetry={peers.reload} />
      {peers.loading && !peers.data ? (
        <Loading what="peers" />
      ) : list.length === 0 && !peers.error ? (
        <EmptyState title="No peers connected" testId="peers-empty">
          Grove is looking for peers in your rooms ({(rooms.data ?? []).map((r) => r.name).join(', ') || 'none joined'}). On a network without internet, start
          every Grove with <code>--bootstrap host:port</code> pointing at a <code>grove bootstrap</code> node, or <code>--lan</code>. Join a room in{' '}
          <a href="#/discover">Discover</a>.
        </EmptyState>
      ) : (
        <div className="table-wrap">
          <table className="table" aria-label="Connected peers">
            <thead>
              <tr>
                <th scope="col">Peer key</th>
                <th scope="col">Address</th>
                <th scope="col">Rooms</th>
                <th scope="col">Connected</th>
                <th scope="col" className="num">
                  Sent
                </th>
                <th scope="col" className="num">
                  Received
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((p) => {
                const rate = rates.get(p.publicKey)
                return (
                  <tr key={p.publicKey} data-testid="peer" data-key={p.publicKey}>
                    <td>
                      <div className="peer-key">
                        <code className="mono ellipsis" title={p.publicKey}>
                          {p.publicKey}
                        </code>
                        <CopyButton text={p.publicKey} />
                      </div>
                    </td>
                    <td>
                      <span className="mono">{p.host ? `${p.host}${p.port ? `:${p.port}` : ''}` : <span className="muted">relayed</span>}</span>
                      {p.transport !== undefined && (
                        <div className="muted small" data-testid="peer-transport" title={TRANSPORT_HELP}>
                          {p.transport === 'tcp' ? 'direct TCP' : p.transport === 'udx' ? 'UDP, holepunched' : 'connecting…'}
                        </div>
                      )}
                    </td>
                    <td>{p.rooms.length > 0 ? p.rooms.map((r) => roomName.get(r) ?? `${r.slice(0, 8)}…`).join(', ') : <span className="muted">—</span>}</td>
                    <td title={new Date(p.connectedAt).toLocaleString()}>{timeAgo(p.connectedAt)}</td>
                    <td className="num">
                      {formatBytes(p.uploadedBytes)}
                      {rate && rate.up > 0 && <div className="muted small">{formatSpeed(rate.up)}</div>}
                    </td>
                    <td className="num">
                      {formatBytes(p.downloadedBytes)}
                      {rate && rate.down > 0 && <div className="muted small">{formatSpeed(rate.down)}</div>}
                    </td>
                  </tr>
                )
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  )
}
