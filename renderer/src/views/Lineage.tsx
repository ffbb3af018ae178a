// Lineage: the model tree as an interactive graph, with a panel for what is selected, the
// relation and verification of every edge, and problems the catalog found.
import { useCallback, useId, useMemo, useState, type FormEvent } from 'react'
import type { LineageGraph as Graph } from '../../../shared/api.js'
import { useCall, useLiveList } from '../api/hooks.js'
import { Badge, KindBadge, Seeders } from '../components/Badges.js'
import { EmptyState } from '../components/EmptyState.js'
import { ErrorNotice } from '../components/ErrorNotice.js'
import { LineageGraph, REASON_TEXT, edgeId, type Selection } from '../components/LineageGraph.js'
import { Loading, PageHeader } from '../components/PageHeader.js'
import type { Direction } from '../lineage-layout.js'
import { plural, shortLink } from '../format.js'
import { href, navigate } from '../router.js'

export function LineageView({ link }: { link: string | null }) {
  if (!link) return <LineagePicker />
  return <LineageOf key={link} link={link} />
}

function LineagePicker() {
  const id = useId()
  const library = useLiveList('library.list', 'library')
  const [text, setText] = useState('')
  const go = (e: FormEvent) => {
    e.preventDefault()
    if (text.trim()) navigate(href('lineage', text.trim()))
  }
  return (
    <section className="view" data-testid="view-lineage">
      <PageHeader title="Lineage" subtitle="How models descend from each other: finetunes, adapters, quantizations and merges" />
      <form className="panel row" onSubmit={go}>
        <label htmlFor={`${id}-link`} className="visually-hidden">
          Model link
        </label>
        <input id={`${id}-link`} className="input mono grow" placeholder="grove://… or sha256:…" value={text} onChange={(e) => setText(e.target.value)} />
        <button type="submit" className="btn btn-primary">
          Show tree
        </button>
      </form>
      {(library.data ?? []).length > 0 ? (
        <div className="panel">
          <h2 className="panel-title">Your models</h2>
          <ul className="plain-list">
            {(library.data ?? []).map((item) => (
              <li key={item.link}>
                <a href={href('lineage', item.link)}>{item.name}</a> <KindBadge kind={item.kind} />
              </li>
            ))}
          </ul>
        </div>
      ) : (
        <EmptyState title="Pick a model to see its family tree">
          Open a model from <a href="#/discover">Discover</a> and choose Lineage, or paste its link above.
        </EmptyState>
      )}
    </section>
  )
}

function LineageOf({ link }: { link: string }) {
  const [depth, setDepth] = useState(8)
  // Until the person picks one: top-down for small trees, left-right for big ones (siblings
  // stack in rows of ~80 px instead of columns of ~250 px).
  const [picked, setDirection] = useState<Direction | null>(null)
  const lineage = useCall('lineage.get', { link, maxDepth: depth })
  const [selection, setSelection] = useState<Selection>(null)
  const onSelect = useCallback((s: Selection) => setSelection(s), [])
  const graph = lineage.data
  const direction: Direction = picked ?? ((graph?.nodes.length ?? 0) > 60 ? 'LR' : 'TB')
  const root = graph?.nodes.find((n) => n.link === graph.root)
  const claimed = graph?.edges.filter((e) => !e.verified).length ?? 0

  return (
    <section className="view view-wide" data-testid="view-lineage">
      <PageHeader
        title={root?.name ? `Lineage of ${root.name}` : 'Lineage'}
        subtitle={graph ? `${plural(graph.nodes.length, 'model')} · ${plural(graph.edges.length, 'link')}${claimed > 0 ? ` (${claimed} claimed, not verified)` : ''}${graph.truncated ? ' · cut short' : ''}` : undefined}
        actions={
          <div className="row">
            <label className="check">
              Depth{' '}
              <select className="input input-small" value={depth} onChange={(e) => setDepth(Number(e.target.value))}>
                {[1, 2, 4, 8, 16, 32, 64].map((d) => (
                  <option key={d} value={d}>
                    {d}
                  </option>
                ))}
              </select>
            </label>
            <div className="segmented" role="radiogroup" aria-label="Layout direction">
              <button type="button" role="radio" aria-checked={direction === 'TB'} className={direction === 'TB' ? 'on' : ''} onClick={() => setDirection('TB')}>
                Top-down
              </button>
              <button type="button" role="radio" aria-checked={direction === 'LR'} className={direction === 'LR' ? 'on' : ''} onClick={() => setDirection('LR')}>
                Left-right
              </button>
            </div>
          </div>
        }
      />
      <ErrorNotice error={lineage.error} title="Could not load the tree" onRetry={lineage.reload} />
      {!graph ? (
        lineage.loading ? <Loading what="the tree" /> : null
      ) : (
        <>
          {graph.truncated && (
            <p className="notice notice-info">
              The tree is larger than shown (depth {depth}). Raise the depth, or open a model further away to centre on it.
            </p>
          )}
          <div className="lineage-layout">
            <LineageGraph graph={graph} direction={direction} selection={selection ?? { kind: 'node', id: graph.root }} onSelect={onSelect} />
            <LineagePanel graph={graph} selection={selection ?? { kind: 'node', id: graph.root }} onSelect={setSelection} />
          </div>
          <Legend />
        </>
      )}
    </section>
  )
}

function Legend() {
  return (
    <div className="legend" aria-label="Legend">
      <span>
        <svg width="34" height="8" aria-hidden="true">
          <line x1="0" y1="4" x2="34" y2="4" className="legend-verified" />
        </svg>
        verified: the child names its parent’s weights hash and it matches
      </span>
      <span>
        <svg width="34" height="8" aria-hidden="true">
          <line x1="0" y1="4" x2="34" y2="4" className="legend-claimed" />
        </svg>
        claimed: not checked (hover for the reason)
      </span>
      <span>Tab to a model and press Enter to select it; scroll or pinch to zoom, drag to pan.</span>
    </div>
  )
}

function LineagePanel({ graph, selection, onSelect }: { graph: Graph; selection: NonNullable<Selection>; onSelect: (s: Selection) => void }) {
  const byId = useMemo(() => new Map(graph.nodes.map((n) => [n.link, n])), [graph])
  const nameOf = (id: string) => byId.get(id)?.name || shortLink(id)

  if (selection.kind === 'edge') {
    const e = graph.edges.find((x) => edgeId(x) === selection.id)
    if (!e) return <aside className="lineage-panel" />
    return (
      <aside className="lineage-panel" data-testid="lineage-panel">
        <h2 className="side-title">Link</h2>
        <p>
          <strong>{nameOf(e.child)}</strong> is {e.relation === 'adapter' ? 'an' : 'a'} <strong>{e.relation}</strong> of <strong>{nameOf(e.parent)}</strong>.
        </p>
        {e.verified ? (
          <p className="notice notice-ok">Verified: the child names its parent’s weights sha256, and the parent’s own manifest has the same hash.</p>
        ) : (
          <p className="notice notice-warn">
            Claimed, not verified: {e.detail ?? REASON_TEXT[e.reason ?? ''] ?? 'there is no hash to check'}.
          </p>
        )}
        <div className="row">
          <button type="button" className="btn btn-small" onClick={() => onSelect({ kind: 'node', id: e.parent })}>
            Parent
          </button>
          <button type="button" className="btn btn-small" onClick={() => onSelect({ kind: 'node', id: e.child })}>
            Child
          </button>
        </div>
      </aside>
    )
  }

  const n = byId.get(selection.id)
  if (!n) return <aside className="lineage-panel" />
  const parents = graph.edges.filter((e) => e.child === n.link)
  const children = graph.edges.filter((e) => e.parent === n.link)
  const problems = graph.problems.filter((p) => p.nodes.includes(n.link))
  const isLink = n.link.startsWith('grove://')
  return (
    <aside className="lineage-panel" data-testid="lineage-panel">
      <h2 className="side-title">{n.missing ? 'Not in the catalog' : n.role === 'root' ? 'This model' : 'Selected'}</h2>
      <div className="lineage-panel-name">{n.name || shortLink(n.link)}</div>
      <div className="row wrap">
        {!n.missing && <KindBadge kind={n.kind} />}
        {!n.missing && <Seeders n={n.seeders} />}
        {n.local && <Badge tone="ok">In library</Badge>}
      </div>
      <code className="mono small wrap-anywhere">{n.link}</code>
      {n.missing && <p className="muted small">A model names this as its parent, but no peer in your rooms has announced it.</p>}
      <div className="row wrap">
        {isLink && !n.missing && (
          <a className="btn btn-small btn-primary" href={href('model', n.link)}>
            Open model
          </a>
        )}
        {n.role !== 'root' && (
          <a className="btn btn-small" href={href('lineage', n.link)}>
            Centre tree here
          </a>
        )}
      </div>
      <EdgeList title="Parents" edges={parents} other={(e) => e.parent} nameOf={nameOf} onSelect={onSelect} empty="None known" />
      <EdgeList title="Children" edges={children} other={(e) => e.child} nameOf={nameOf} onSelect={onSelect} empty="None known" />
      {problems.length > 0 && (
        <>
          <h3 className="side-subtitle">Problems</h3>
          <ul className="plain-list small">
            {problems.slice(0, 20).map((p, i) => (
              <li key={i} className="warn-text">
                {p.detail}
              </li>
            ))}
          </ul>
        </>
      )}
    </aside>
  )
}

function EdgeList({ title, edges, other, nameOf, onSelect, empty }: { title: string; edges: Graph['edges']; other: (e: Graph['edges'][number]) => string; nameOf: (id: string) => string; onSelect: (s: Selection) => void; empty: string }) {
  return (
    <>
      <h3 className="side-subtitle">
        {title} {edges.length > 0 && <span className="muted">({edges.length})</span>}
      </h3>
      {edges.length === 0 ? (
        <p className="muted small">{empty}</p>
      ) : (
        <ul className="plain-list edge-list">
          {edges.slice(0, 200).map((e) => (
            <li key={edgeId(e)} data-testid="lineage-edge-row" data-parent={e.parent} data-child={e.child}>
              <button type="button" className="linklike" onClick={() => onSelect({ kind: 'node', id: other(e) })}>
                {nameOf(other(e))}
              </button>{' '}
              <button type="button" className={`edge-chip ${e.verified ? 'verified' : 'claimed'}`} onClick={() => onSelect({ kind: 'edge', id: edgeId(e) })} title={e.verified ? 'verified' : `claimed: ${e.detail ?? e.reason ?? ''}`}>
                {e.relation} {e.verified ? '✓' : '?'}
              </button>
            </li>
          ))}
          {edges.length > 200 && <li className="muted small">…and {edges.length - 200} more</li>}
        </ul>
      )}
    </>
  )
}
