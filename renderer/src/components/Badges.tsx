import type { ReactNode } from 'react'

export function KindBadge({ kind }: { kind: string | null | undefined }) {
  const k = kind ?? 'unknown'
  return <span className={`badge kind-${k}`}>{k === 'model' ? 'Model' : k === 'adapter' ? 'Adapter' : 'Unknown'}</span>
}

export function Badge({ children, tone = 'neutral', title }: { children: ReactNode; tone?: 'neutral' | 'ok' | 'warn' | 'bad' | 'info'; title?: string }) {
  return (
    <span className={`badge tone-${tone}`} title={title}>
      {children}
    </span>
  )
}

export function Seeders({ n }: { n: number }) {
  return (
    <span className={`seeders${n === 0 ? ' none' : ''}`} title={n === 0 ? 'Nobody online seeds this right now' : `${n} peer${n === 1 ? '' : 's'} seed this`} data-testid="seeders">
      <span className="dot" aria-hidden="true" />
      {n} {n === 1 ? 'seeder' : 'seeders'}
    </span>
  )
}
