// The main navigation: one link per view (keyboard: Tab/Enter, or Alt+1…7), live counts, and
// who this Grove is.
import { useEffect, useState } from 'react'
import type { AppInfo } from '../../../shared/api.js'
import type { ConnectionState } from '../api/client.js'
import { shortKey } from '../format.js'
import type { View } from '../router.js'

export const NAV: { view: View; label: string; icon: string }[] = [
  { view: 'library', label: 'Library', icon: 'M4 5h4v14H4zM10 5h4v14h-4zM16 6l3.5-1 3 13.5-3.5 1z' },
  { view: 'discover', label: 'Discover', icon: 'M11 4a7 7 0 1 1 0 14 7 7 0 0 1 0-14zM16.5 16.5 21 21' },
  { view: 'lineage', label: 'Lineage', icon: 'M6 4v6M6 10c0 4 12 2 12 8M6 10v10M4 4h4M16 18h4' },
  { view: 'transfers', label: 'Transfers', icon: 'M12 4v12M7 11l5 5 5-5M5 20h14' },
  { view: 'peers', label: 'Peers', icon: 'M8 11a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM16 13a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM2 20c0-3 3-5 6-5s6 2 6 5M12 20c.5-2.5 2-4 4-4 3 0 6 2 6 4' },
  { view: 'chat', label: 'Chat', icon: 'M4 5h16v10H9l-5 4z' }
]

interface Props {
  current: View | 'unknown'
  info: AppInfo | undefined
  connection: ConnectionState
  counts: Partial<Record<View, number>>
}

/** The first connection takes a moment: say "Connecting…" only if it takes longer than that. */
function useSettled(connection: ConnectionState): ConnectionState | null {
  const [patient, setPatient] = useState(true)
  useEffect(() => {
    const t = setTimeout(() => setPatient(false), 1200)
    return () => clearTimeout(t)
  }, [])
  return patient && connection === 'connecting' ? null : connection
}

export function Sidebar({ current, info, connection, counts }: Props) {
  const active = current === 'model' ? 'discover' : current
  const shown = useSettled(connection)
  return (
    <aside className="sidebar">
      <div className="brand">
        <svg viewBox="0 0 24 24" width="22" height="22" aria-hidden="true">
          <path d="M12 2c-4 4-7 8-7 12a7 7 0 0 0 14 0c0-4-3-8-7-12z" fill="currentColor" opacity="0.9" />
          <path d="M12 9v13" stroke="var(--sidebar-bg)" strokeWidth="1.6" />
        </svg>
        <span>Grove</span>
      </div>
      <nav aria-label="Main">
        <ul>
          {NAV.map((item, i) => (
            <li key={item.view}>
              <a
                href={`#/${item.view}`}
                className={`nav-link${active === item.view ? ' active' : ''}`}
                aria-current={active === item.view ? 'page' : undefined}
                aria-keyshortcuts={`Alt+${i + 1}`}
                title={`${item.label} (Alt+${i + 1})`}
                data-testid={`nav-${item.view}`}
              >
                <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true">
                  <path d={item.icon} fill="none" stroke="currentColor" strokeWidth="1.7" strokeLinecap="round" strokeLinejoin="round" />
                </svg>
                <span className="nav-label">{item.label}</span>
                {(counts[item.view] ?? 0) > 0 && <span className="nav-count">{counts[item.view]}</span>}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <div className="sidebar-foot">
        <div className={`conn conn-${shown ?? 'pending'}`} role="status" aria-live="polite">
          {shown && (
            <>
              <span className="dot" aria-hidden="true" />
              {shown === 'open' ? 'Connected' : shown === 'connecting' ? 'Connecting…' : 'Reconnecting…'}
            </>
          )}
        </div>
        {info && (
          <div className="me" title={`Your peer key: ${info.peerKey}\nHome: ${info.home}`}>
            <span className="me-label">You</span> <code>{shortKey(info.peerKey)}</code>
            <div className="me-version">
              v{info.version} · {info.transport === 'electron' ? 'desktop' : 'browser'}
            </div>
          </div>
        )}
      </div>
    </aside>
  )
}
