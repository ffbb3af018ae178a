// Discover: the room catalog with search and filters (architecture, kind, licence, relation,
// fits this machine), seeders per model, and the rooms to join or leave.
import { useEffect, useId, useMemo, useRef, useState } from 'react'
import type { CatalogItem, CatalogQuery } from '../../../shared/api.js'
import { RELATIONS } from '../../../shared/manifest.js'
import { useCall, useEvent } from '../api/hooks.js'
import { Badge, KindBadge, Seeders } from '../components/Badges.js'
import { EmptyState } from '../components/EmptyState.js'
import { ErrorNotice } from '../components/ErrorNotice.js'
import { Loading, PageHeader } from '../components/PageHeader.js'
import { Rooms } from '../components/Rooms.js'
import { formatBytes, formatCount } from '../format.js'
import { href } from '../router.js'

const PAGE = 50

export function DiscoverView() {
  const id = useId()
  const [text, setText] = useState('')
  const [debounced, setDebounced] = useState('')
  const [kind, setKind] = useState<'' | 'model' | 'adapter'>('')
  const [architecture, setArchitecture] = useState('')
  const [license, setLicense] = useState('')
  const [relation, setRelation] = useState('')
  const [fits, setFits] = useState(false)
  const [limit, setLimit] = useState(PAGE)
  const seen = useRef({ architectures: new Set<string>(), licenses: new Set<string>() })

  useEffect(() => {
    const t = setTimeout(() => setDebounced(text.trim()), 250)
    return () => clearTimeout(t)
  }, [text])

  const query: CatalogQuery = useMemo(
    () => ({
      text: debounced || undefined,
      kind: kind || undefined,
      architecture: architecture || undefined,
      license: license || undefined,
      relation: (relation || undefined) as CatalogQuery['relation'],
      fitsThisMachine: fits || undefined,
      limit
    }),
    [debounced, kind, architecture, license, relation, fits, limit]
  )
  const result = useCall('catalog.search', query)
  const { reload } = result

  // The catalog grows as peers connect: search again (at most once a second).
  const pending = useRef<ReturnType<typeof setTimeout> | null>(null)
  useEvent('catalog', () => {
    if (pending.current) return
    pending.current = setTimeout(() => {
      pending.current = null
      reload()
    }, 1000)
  })
  useEffect(() => () => {
    if (pending.current) clearTimeout(pending.current)
  }, [])

  const items = result.data?.items ?? []
  for (const item of items) {
    if (item.architecture) seen.current.architectures.add(item.architecture)
    if (item.license) seen.current.licenses.add(item.license)
  }
  const filtered = Boolean(debounced || kind || architecture || license || relation || fits)
  const clear = () => {
    setText('')
    setKind('')
    setArchitecture('')
    setLicense('')
    setRelation('')
    setFits(false)
  }

  return (
    <section className="view" data-testid="view-discover">
      <PageHeader title="Discover" subtitle={result.data ? `${result.data.total} ${result.data.total === 1 ? 'model' : 'models'} in your rooms${filtered ? ' match' : ''}` : 'Models that peers in your rooms share'} />
      <div className="discover">
        <div className="discover-main">
          <div className="filters" role="search">
            <label htmlFor={`${id}-q`} className="visually-hidden">
              Search models
            </label>
            <input
              id={`${id}-q`}
              className="input search"
              type="search"
              placeholder="Search by name, architecture, licence…"
              value={text}
              onChange={(e) => {
                setText(e.target.value)
                setLimit(PAGE)
              }}
              data-testid="catalog-search"
            />
            <div className="filter-row">
              <Select label="Kind" value={kind} onChange={(v) => setKind(v as typeof kind)} options={[['', 'Any kind'], ['model', 'Models'], ['adapter', 'Adapters']]} />
              <Select label="Architecture" value={architecture} onChange={setArchitecture} options={[['', 'Any architecture'], ...[...seen.current.architectures].sort().map((a) => [a, a] as [string, string])]} />
              <Select label="Licence" value={license} onChange={setLicense} options={[['', 'Any licence'], ...[...seen.current.licenses].sort().map((l) => [l, l] as [string, string])]} />
              <Select label="Relation" value={relation} onChange={setRelation} options={[['', 'Any relation'], ...RELATIONS.map((r) => [r, `${r[0]!.toUpperCase()}${r.slice(1)}s`] as [string, string])]} />
              <label className="check">
                <input type="checkbox" checked={fits} onChange={(e) => setFits(e.target.checked)} /> Fits this machine
              </label>
              {filtered && (
                <button type="button" className="btn btn-small btn-ghost" onClick={clear}>
                  Clear filters
                </button>
              )}
            </div>
          </div>
          <ErrorNotice error={result.error} title="Could not search the catalog" onRetry={reload} />
          {result.loading && !result.data ? (
            <Loading what="the catalog" />
          ) : items.length === 0 && !result.error ? (
            filtered ? (
              <EmptyState title="No model matches" action={<button type="button" className="btn" onClick={clear}>Clear filters</button>}>
                Try fewer filters or another word. New models appear here as peers come online.
              </EmptyState>
            ) : (
              <EmptyState title="Nothing in your rooms yet" testId="discover-empty">
                Models appear here when peers in your rooms share them. Check <a href="#/peers">Peers</a> to see who is connected, or join a room on the right.
                Have a <code>grove://</code> link? Paste it in the search box.
              </EmptyState>
            )
          ) : (
            <>
              <ul className="item-list" aria-label="Catalog">
                {items.map((item) => (
                  <CatalogRow key={item.link} item={item} />
                ))}
              </ul>
              {result.data && result.data.total > items.length && (
                <button type="button" className="btn load-more" onClick={() => setLimit((l) => Math.min(1000, l + PAGE))}>
                  Show more ({result.data.total - items.length} more)
                </button>
              )}
            </>
          )}
          <PasteLink text={text} />
        </div>
        <Rooms />
      </div>
    </section>
  )
}

function PasteLink({ text }: { text: string }) {
  const m = /grove:\/\/[a-z0-9]{52,64}/i.exec(text)
  if (!m) return null
  return (
    <p className="notice notice-info">
      That looks like a link: <a href={href('model', m[0])}>open {m[0].slice(0, 24)}…</a>
    </p>
  )
}

function Select({ label, value, onChange, options }: { label: string; value: string; onChange: (v: string) => void; options: [string, string][] }) {
  const id = useId()
  return (
    <span className="select">
      <label htmlFor={id} className="visually-hidden">
        {label}
      </label>
      <select id={id} className="input" value={value} onChange={(e) => onChange(e.target.value)}>
        {options.map(([v, text]) => (
          <option key={v} value={v}>
            {text}
          </option>
        ))}
      </select>
    </span>
  )
}

function CatalogRow({ item }: { item: CatalogItem }) {
  const parent = item.parents[0]
  return (
    <li className="item" data-testid="catalog-item" data-link={item.link}>
      <div className="item-main">
        <div className="item-title">
          <a href={href('model', item.link)} className="item-name">
            {item.name}
          </a>
          <KindBadge kind={item.kind} />
          {item.local && <Badge tone="ok">In library</Badge>}
          {item.source === 'peer' && (
            <Badge tone="warn" title="Relayed by a peer; Grove has not read this model’s own manifest yet">
              relayed
            </Badge>
          )}
        </div>
        <div className="item-meta">
          {item.architecture && <span>{item.architecture}</span>}
          {item.parameterCount !== undefined && <span>{formatCount(item.parameterCount)} params</span>}
          {item.quantization && <span>{item.quantization}</span>}
          <span>{formatBytes(item.size)}</span>
          {item.license && <span>{item.license}</span>}
          {parent && (
            <span>
              {parent.relation} of {parent.name ?? (parent.link ? 'a model' : 'a model known by hash')}
              {item.parents.length > 1 ? ` +${item.parents.length - 1}` : ''}
            </span>
          )}
        </div>
      </div>
      <div className="item-actions">
        <Seeders n={item.seeders} />
        <div className="row">
          <a className="btn btn-small" href={href('lineage', item.link)}>
            Lineage
          </a>
          <a className="btn btn-small btn-primary" href={href('model', item.link)} aria-label={`Open ${item.name}`}>
            Open
          </a>
        </div>
      </div>
    </li>
  )
}
