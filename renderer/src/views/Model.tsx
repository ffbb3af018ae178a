// A model's page: its card (untrusted Markdown, rendered safely), licence, publisher, datasets,
// files, seeders, its own branch of the tree, and download / run / fork.
import { useMemo, useState } from 'react'
import type { CallResult, ModelDetail } from '../../../shared/api.js'
import { parseCard } from '../../../shared/model-card.js'
import { useCall, useClient, type CallState } from '../api/hooks.js'
import { Badge, KindBadge, Seeders } from '../components/Badges.js'
import { CopyButton } from '../components/CopyButton.js'
import { EmptyState } from '../components/EmptyState.js'
import { ErrorNotice } from '../components/ErrorNotice.js'
import { useLicenseGate } from '../components/LicenseGate.js'
import { LineageGraph } from '../components/LineageGraph.js'
import { ModelCard } from '../components/ModelCard.js'
import { Loading, PageHeader } from '../components/PageHeader.js'
import { ShareForm } from '../components/ShareForm.js'
import { TransferCard } from '../components/TransferCard.js'
import { formatBytes, formatCount, shortKey } from '../format.js'
import { href, navigate } from '../router.js'

export function ModelView({ link, transfers }: { link: string; transfers: CallState<CallResult<'transfers.list'>> }) {
  const detail = useCall('model.get', { link })
  if (detail.error && !detail.data) {
    return (
      <section className="view" data-testid="view-model">
        <PageHeader title="Model" subtitle={<code>{link}</code>} />
        <ErrorNotice error={detail.error} title="Could not open this model" onRetry={detail.reload} />
      </section>
    )
  }
  if (!detail.data) return <Loading what="the model" />
  return <ModelPage detail={detail.data} reload={detail.reload} transfer={transfers.data?.find((t) => t.link === link)} />
}

function ModelPage({ detail, reload, transfer }: { detail: ModelDetail; reload: () => void; transfer: CallResult<'transfers.list'>[number] | undefined }) {
  const client = useClient()
  const m = detail.manifest
  const card = useMemo(() => (detail.card ? parseCard(detail.card) : null), [detail.card])
  const lineage = useCall('lineage.get', { link: detail.link, maxDepth: 4 })
  const [forking, setForking] = useState(false)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<unknown>(null)
  const gate = useLicenseGate({ link: detail.link, name: m.name, license: m.license, needsAcceptance: detail.licenseNeedsAcceptance, accepted: detail.licenseAccepted }, reload)
  const weights = m.files[0]
  const size = m.files.reduce((s, f) => s + f.size, 0)
  const datasets = card?.frontMatter.datasets ?? []
  const tags = card?.frontMatter.tags ?? []
  const downloading = transfer !== undefined && transfer.state !== 'done'
  const baseLink = m.parents.find((p) => p.link !== undefined)?.link

  const download = async () => {
    if (!(await gate.ensureAccepted('download'))) return
    setBusy(true)
    setError(null)
    try {
      await client.call('transfers.start', { link: detail.link })
    } catch (err) {
      setError(err)
    } finally {
      setBusy(false)
    }
  }

  const run = async () => {
    if (!(await gate.ensureAccepted('run'))) return
    if (m.kind === 'adapter') navigate(href('chat', null, { model: baseLink, adapter: detail.link }))
    else navigate(href('chat', null, { model: detail.link }))
  }

  const wasDone = transfer?.state === 'done'
  const complete = detail.complete || wasDone

  return (
    <section className="view" data-testid="view-model">
      <PageHeader
        title={m.name}
        subtitle={
          <span className="row wrap">
            <KindBadge kind={m.kind} />
            {m.license ? <Badge tone={detail.licenseNeedsAcceptance ? 'warn' : 'neutral'} title="Licence">{m.license}</Badge> : <Badge>No licence stated</Badge>}
            {detail.licenseNeedsAcceptance && <Badge tone={detail.licenseAccepted ? 'ok' : 'warn'}>{detail.licenseAccepted ? 'Licence accepted' : 'Licence needs acceptance'}</Badge>}
            {complete ? <Badge tone="ok">In library</Badge> : detail.inLibrary ? <Badge tone="warn">Partly downloaded</Badge> : null}
            <Seeders n={detail.seeders} />
          </span>
        }
        actions={
          <>
            {!complete && (
              <button type="button" className="btn btn-primary" onClick={() => void download()} disabled={busy || downloading} data-testid="download">
                {downloading ? 'Downloading…' : detail.inLibrary ? 'Resume download' : `Download ${formatBytes(size)}`}
              </button>
            )}
            {complete && (
              <button type="button" className="btn btn-primary" onClick={() => void run()} disabled={m.kind === 'adapter' && !baseLink} data-testid="run">
                {m.kind === 'adapter' ? 'Run with its base' : 'Run'}
              </button>
            )}
            <button type="button" className="btn" onClick={() => setForking((f) => !f)} aria-expanded={forking}>
              Fork
            </button>
          </>
        }
      />
      {gate.dialog}
      <ErrorNotice error={error} title="Could not start the download" />
      {transfer && <TransferCard transfer={transfer} showName={false} />}
      {detail.seeders === 0 && !complete && !transfer && (
        <p className="notice notice-info">Nobody who has this model is online right now. You can still start the download: it begins when a seeder comes back.</p>
      )}
      {forking && (
        <div className="panel">
          <h2 className="panel-title">Publish your fork of {m.name}</h2>
          <p className="muted small">Share an adapter, finetune, quantization or merge you made from this model. It will name this model as its parent, so others see how it descends.</p>
          <ShareForm parent={{ link: detail.link, name: m.name }} defaultRelation={m.kind === 'model' ? 'adapter' : 'finetune'} onShared={() => setForking(false)} onCancel={() => setForking(false)} />
        </div>
      )}

      <div className="model-layout">
        <div className="model-main">
          {m.description && <p className="lead">{m.description}</p>}
          {card && card.body.trim() !== '' ? (
            <div className="panel">
              <ModelCard body={card.body} />
            </div>
          ) : (
            <EmptyState title="No model card">The publisher did not write a card. The details on the right come from the model’s manifest.</EmptyState>
          )}
          <div className="panel">
            <div className="panel-head">
              <h2 className="panel-title">Family tree</h2>
              <a className="btn btn-small" href={href('lineage', detail.link)}>
                Open in Lineage
              </a>
            </div>
            <ErrorNotice error={lineage.error} compact onRetry={lineage.reload} />
            {lineage.data && lineage.data.nodes.length > 1 ? (
              <LineageGraph graph={lineage.data} className="small" minimap={false} selection={{ kind: 'node', id: lineage.data.root }} />
            ) : lineage.data ? (
              <p className="muted">No known parents or children yet.</p>
            ) : null}
          </div>
        </div>
        <aside className="model-side">
          <dl className="facts">
            <dt>Link</dt>
            <dd>
              <code className="mono wrap-anywhere">{detail.link}</code> <CopyButton text={detail.link} />
            </dd>
            <dt>Publisher</dt>
            <dd>
              <code className="mono" title={m.publisher}>
                {shortKey(m.publisher)}
              </code>
            </dd>
            {m.architecture && (
              <>
                <dt>Architecture</dt>
                <dd>{m.architecture}</dd>
              </>
            )}
            {m.parameterCount !== undefined && (
              <>
                <dt>Parameters</dt>
                <dd>{formatCount(m.parameterCount)}</dd>
              </>
            )}
            {m.quantization && (
              <>
                <dt>Quantization</dt>
                <dd>{m.quantization}</dd>
              </>
            )}
            {m.contextLength !== undefined && (
              <>
                <dt>Context</dt>
                <dd>{m.contextLength.toLocaleString()} tokens</dd>
              </>
            )}
            <dt>Published</dt>
            <dd>{new Date(m.created).toLocaleString()}</dd>
            <dt>Datasets</dt>
            <dd>{datasets.length > 0 ? datasets.join(', ') : <span className="muted">not stated</span>}</dd>
            {tags.length > 0 && (
              <>
                <dt>Tags</dt>
                <dd className="row wrap">
                  {tags.map((t) => (
                    <Badge key={t}>{t}</Badge>
                  ))}
                </dd>
              </>
            )}
          </dl>
          <h2 className="side-title">Parents</h2>
          {m.parents.length === 0 ? (
            <p className="muted small">An original model: it names no parent.</p>
          ) : (
            <ul className="plain-list">
              {m.parents.map((p, i) => (
                <li key={i}>
                  <Badge>{p.relation}</Badge>{' '}
                  {p.link ? <a href={href('model', p.link)}>{p.name ?? shortKey(p.link.replace('grove://', ''))}</a> : <span className="mono">{p.name ?? `sha256:${shortKey(p.sha256 ?? '')}`}</span>}
                </li>
              ))}
            </ul>
          )}
          <h2 className="side-title">Files</h2>
          <ul className="plain-list files">
            {m.files.map((f) => (
              <li key={f.path}>
                <div className="mono">{f.path.replace(/^\//, '')}</div>
                <div className="muted small">
                  {formatBytes(f.size)} · sha256 <span className="mono" title={f.sha256}>{f.sha256.slice(0, 16)}…</span>
                </div>
              </li>
            ))}
          </ul>
          {weights && <p className="muted small">Every byte is checked against the sha256 above before Grove uses the file.</p>}
        </aside>
      </div>
    </section>
  )
}
