// The shell: sidebar navigation, a banner while Grove is unreachable, and the current view.
import { useEffect, useRef } from 'react'
import { useCall, useConnection, useLiveList, useTransfers } from './api/hooks.js'
import { NAV, Sidebar } from './components/Sidebar.js'
import { EmptyState } from './components/EmptyState.js'
import { useRoute } from './router.js'
import { ChatView } from './views/Chat.js'
import { DiscoverView } from './views/Discover.js'
import { LibraryView } from './views/Library.js'
import { LineageView } from './views/Lineage.js'
import { ModelView } from './views/Model.js'
import { PeersView } from './views/Peers.js'
import { TransfersView } from './views/Transfers.js'

export function App() {
  const route = useRoute()
  const connection = useConnection()
  const info = useCall('app.info', {})
  const peers = useLiveList('peers.list', 'peers')
  const transfers = useTransfers()
  const mainRef = useRef<HTMLElement>(null)

  // Alt+1…6 switch views; moving to a view puts keyboard focus on its heading.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (!e.altKey || e.ctrlKey || e.metaKey) return
      const item = NAV[Number(e.key) - 1]
      if (!item) return
      e.preventDefault()
      window.location.hash = `#/${item.view}`
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [])
  useEffect(() => {
    const item = NAV.find((n) => n.view === route.view)
    document.title = item ? `${item.label} — Grove` : route.view === 'model' ? 'Model — Grove' : 'Grove'
    const heading = mainRef.current?.querySelector<HTMLElement>('h1')
    if (heading && document.activeElement?.closest('.sidebar')) heading.focus({ preventScroll: true })
  }, [route.view, route.link])

  const active = (transfers.data ?? []).filter((t) => t.state === 'downloading' || t.state === 'connecting' || t.state === 'verifying').length
  const counts = { peers: peers.data?.length ?? 0, transfers: active }

  return (
    <div className="app">
      <a className="skip-link" href="#main" onClick={(e) => {
        e.preventDefault()
        mainRef.current?.focus()
      }}>
        Skip to content
      </a>
      <Sidebar current={route.view} info={info.data} connection={connection} counts={counts} />
      <main id="main" ref={mainRef} tabIndex={-1} className="main">
        {connection === 'closed' && (
          <div className="banner" role="alert">
            Lost the connection to Grove. Reconnecting… If this lasts, check that Grove (the app or <code>grove serve</code>) is still running.
          </div>
        )}
        <ViewFor route={route} peers={peers} transfers={transfers} />
      </main>
    </div>
  )
}

function ViewFor({ route, peers, transfers }: { route: ReturnType<typeof useRoute>; peers: ReturnType<typeof useLiveList<'peers.list', 'peers'>>; transfers: ReturnType<typeof useTransfers> }) {
  switch (route.view) {
    case 'library':
      return <LibraryView />
    case 'discover':
      return <DiscoverView />
    case 'model':
      return route.link ? <ModelView link={route.link} transfers={transfers} /> : <DiscoverView />
    case 'lineage':
      return <LineageView link={route.link} />
    case 'peers':
      return <PeersView peers={peers} />
    case 'transfers':
      return <TransfersView transfers={transfers} />
    case 'chat':
      return <ChatView initialModel={route.query.get('model')} initialAdapters={route.query.getAll('adapter')} />
    default:
      return (
        <EmptyState title="This page does not exist" action={<a className="btn" href="#/library">Go to your library</a>}>
          The address <code>{window.location.hash}</code> is not a Grove view.
        </EmptyState>
      )
  }
}
