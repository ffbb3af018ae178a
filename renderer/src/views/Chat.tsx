// Chat: pick a model and adapters (with scales), see whether it fits in memory before loading,
// stream tokens, stop, and see tokens per second.
import { useEffect, useId, useMemo, useRef, useState, type FormEvent, type KeyboardEvent } from 'react'
import type { EventPayload } from '../../../shared/api.js'
import { GroveCallError } from '../api/client.js'
import { useCall, useClient, useEvent, useLiveList } from '../api/hooks.js'
import { EmptyState } from '../components/EmptyState.js'
import { ErrorNotice } from '../components/ErrorNotice.js'
import { FitVerdict } from '../components/FitVerdict.js'
import { Loading, PageHeader } from '../components/PageHeader.js'
import { formatMs } from '../format.js'

interface Message {
  role: 'user' | 'assistant'
  content: string
  stats?: { tokensPerSecond: number; firstTokenMs: number; loadMs: number; stopReason: string; tokens: number }
  error?: unknown
}

interface Streaming {
  id: string | null
  text: string
  tokens: number
  startedAt: number
  firstTokenAt: number | null
  stopping: boolean
}

type ChatEvent = { kind: 'token'; p: EventPayload<'chat.token'> } | { kind: 'done'; p: EventPayload<'chat.done'> } | { kind: 'error'; p: EventPayload<'chat.error'> }

const STOP_TEXT: Record<string, string> = { eos: 'finished', maxTokens: 'reached the token limit', stop: 'stop sequence', cancelled: 'stopped' }

export function ChatView({ initialModel, initialAdapters }: { initialModel: string | null; initialAdapters: string[] }) {
  const client = useClient()
  const id = useId()
  const library = useLiveList('library.list', 'library')
  const models = useMemo(() => (library.data ?? []).filter((i) => i.complete && i.kind === 'model'), [library.data])
  const adapters = useMemo(() => (library.data ?? []).filter((i) => i.complete && i.kind === 'adapter'), [library.data])
  const [model, setModel] = useState<string>(initialModel ?? '')
  const [chosen, setChosen] = useState<Map<string, number>>(() => new Map(initialAdapters.map((a) => [a, 1])))
  const [maxTokens, setMaxTokens] = useState(256)
  const [temperature, setTemperature] = useState(0.7)
  const [system, setSystem] = useState('')
  const [messages, setMessages] = useState<Message[]>([])
  const [input, setInput] = useState('')
  const [streaming, setStreaming] = useState<Streaming | null>(null)
  const [startError, setStartError] = useState<unknown>(null)
  const buffered = useRef<ChatEvent[]>([])
  const current = useRef<string | null>(null)
  const awaitingId = useRef(false)
  const stopWanted = useRef(false)
  const scroller = useRef<HTMLDivElement>(null)

  // Default to the first model once the library is known.
  useEffect(() => {
    if (model === '' && models[0]) setModel(models[0].link)
  }, [model, models])

  const fit = useCall('chat.fit', model ? { link: model } : null)

  // The stream lives in a ref (events arrive between renders) and is mirrored to state for drawing.
  const stream = useRef<Streaming | null>(null)
  const update = (next: Streaming | null) => {
    stream.current = next
    setStreaming(next)
  }

  const apply = (ev: ChatEvent) => {
    const s = stream.current
    if (ev.kind === 'token') {
      if (s) update({ ...s, text: s.text + ev.p.text, tokens: s.tokens + ev.p.tokens.length, firstTokenAt: s.firstTokenAt ?? Date.now() })
      return
    }
    current.current = null
    update(null)
    const msg: Message =
      ev.kind === 'done'
        ? { role: 'assistant', content: ev.p.text, stats: { ...ev.p.timings, stopReason: ev.p.stopReason, tokens: s?.tokens ?? 0 } }
        : { role: 'assistant', content: s?.text ?? '', error: new GroveCallError(ev.p.code, ev.p.message, 'chat') }
    setMessages((m) => [...m, msg])
  }

  const route = (ev: ChatEvent) => {
    if (current.current !== null && ev.p.id === current.current) apply(ev)
    else if (awaitingId.current) buffered.current.push(ev)
  }
  useEvent('chat.token', (p) => route({ kind: 'token', p }))
  useEvent('chat.done', (p) => route({ kind: 'done', p }))
  useEvent('chat.error', (p) => route({ kind: 'error', p }))

  useEffect(() => {
    const el = scroller.current
    if (el) el.scrollTop = el.scrollHeight
  }, [messages, streaming?.text])

  const send = async (e?: FormEvent) => {
    e?.preventDefault()
    const text = input.trim()
    if (!text || !model || streaming) return
    const history: Message[] = [...messages, { role: 'user', content: text }]
    setMessages(history)
    setInput('')
    setStartError(null)
    update({ id: null, text: '', tokens: 0, startedAt: Date.now(), firstTokenAt: null, stopping: false })
    buffered.current = []
    awaitingId.current = true
    stopWanted.current = false
    try {
      const wire = history.filter((m) => !m.error).map((m) => ({ role: m.role, content: m.content }))
      const { id: genId } = await client.call('chat.start', {
        link: model,
        adapters: [...chosen].map(([link, scale]) => ({ link, scale })),
        messages: system.trim() ? [{ role: 'system', content: system.trim() }, ...wire] : wire,
        maxTokens,
        temperature
      })
      current.current = genId
      awaitingId.current = false
      if (stream.current) update({ ...stream.current, id: genId })
      const early = buffered.current.filter((ev) => ev.p.id === genId)
      buffered.current = []
      for (const ev of early) apply(ev)
      if (stopWanted.current && current.current === genId) void client.call('chat.stop', { id: genId }).catch(() => {})
    } catch (err) {
      awaitingId.current = false
      update(null)
      setStartError(err)
    }
  }

  const stop = async () => {
    if (stream.current) update({ ...stream.current, stopping: true })
    const genId = current.current
    if (!genId) {
      stopWanted.current = true
      return
    }
    try {
      await client.call('chat.stop', { id: genId })
    } catch (err) {
      setStartError(err)
    }
  }

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault()
      void send()
    }
  }

  if (library.loading && !library.data) return <Loading what="your models" />
  const selected = models.find((m) => m.link === model)
  const liveRate = streaming?.firstTokenAt && streaming.tokens > 1 ? (streaming.tokens - 1) / Math.max(0.001, (Date.now() - streaming.firstTokenAt) / 1000) : null

  return (
    <section className="view view-chat" data-testid="view-chat">
      <PageHeader
        title="Chat"
        subtitle={selected ? `${selected.name}${chosen.size > 0 ? ` + ${chosen.size} adapter${chosen.size === 1 ? '' : 's'}` : ''}` : 'Run a model from your library on this machine'}
        actions={
          messages.length > 0 && (
            <button type="button" className="btn" onClick={() => setMessages([])} disabled={streaming !== null}>
              New chat
            </button>
          )
        }
      />
      <ErrorNotice error={library.error} title="Could not load your library" onRetry={library.reload} />
      {models.length === 0 && !library.error ? (
        <EmptyState title="No model to chat with yet" testId="chat-empty" action={<a className="btn btn-primary" href="#/discover">Find a model</a>}>
          Download a model in Discover, or share a .gguf file from the Library. Chat runs it on this machine.
        </EmptyState>
      ) : (
        <div className="chat">
          <aside className="chat-settings" aria-label="Model settings">
            <label htmlFor={`${id}-model`} className="field-label">
              Model
            </label>
            <select id={`${id}-model`} className="input" value={model} onChange={(e) => setModel(e.target.value)} disabled={streaming !== null} data-testid="chat-model">
              {!selected && model && <option value={model}>{model.slice(0, 30)}… (not downloaded)</option>}
              {models.map((m) => (
                <option key={m.link} value={m.link}>
                  {m.name}
                </option>
              ))}
            </select>
            {model && !selected && <p className="field-help warn">This model is not fully downloaded yet. Download it first (Transfers shows its progress).</p>}
            <ErrorNotice error={fit.error} compact />
            {fit.data && <FitVerdict fit={fit.data} />}

            <fieldset className="fieldset">
              <legend>Adapters</legend>
              {adapters.length === 0 ? (
                <p className="muted small">No LoRA adapter in your library. Adapters you download or share appear here.</p>
              ) : (
                adapters.map((a) => {
                  const scale = chosen.get(a.link)
                  return (
                    <div key={a.link} className="adapter">
                      <label className="check">
                        <input
                          type="checkbox"
                          checked={scale !== undefined}
                          disabled={streaming !== null}
                          onChange={(e) =>
                            setChosen((m) => {
                              const next = new Map(m)
                              if (e.target.checked) next.set(a.link, 1)
                              else next.delete(a.link)
                              return next
                            })
                          }
                        />{' '}
                        {a.name}
                      </label>
                      {scale !== undefined && (
                        <div className="slider">
                          <input
                            type="range"
                            min={0}
                            max={2}
                            step={0.05}
                            value={scale}
                            aria-label={`Scale of ${a.name}`}
                            disabled={streaming !== null}
                            onChange={(e) => setChosen((m) => new Map(m).set(a.link, Number(e.target.value)))}
                          />
                          <output>{scale.toFixed(2)}</output>
                        </div>
                      )}
                    </div>
                  )
                })
              )}
            </fieldset>

            <details className="more">
              <summary>Generation settings</summary>
              <label htmlFor={`${id}-max`} className="field-label">
                Max tokens
              </label>
              <input id={`${id}-max`} className="input" type="number" min={1} max={32768} value={maxTokens} onChange={(e) => setMaxTokens(Math.max(1, Math.min(32768, Number(e.target.value) || 1)))} />
              <label htmlFor={`${id}-temp`} className="field-label">
                Temperature <output>{temperature.toFixed(2)}</output>
              </label>
              <input id={`${id}-temp`} type="range" min={0} max={2} step={0.05} value={temperature} onChange={(e) => setTemperature(Number(e.target.value))} />
              <label htmlFor={`${id}-system`} className="field-label">
                System prompt
              </label>
              <textarea id={`${id}-system`} className="input" rows={3} value={system} onChange={(e) => setSystem(e.target.value)} placeholder="You are a helpful assistant." />
            </details>
          </aside>

          <div className="chat-main">
            <div className="chat-log" ref={scroller} aria-live="polite" aria-busy={streaming !== null} data-testid="chat-log">
              {messages.length === 0 && !streaming && (
                <div className="chat-hint muted">
                  {fit.data?.verdict === 'wontFit'
                    ? 'This model will likely not fit in memory. Pick a smaller one, or try anyway.'
                    : 'Send a message to load the model and start. Enter sends, Shift+Enter adds a line.'}
                </div>
              )}
              {messages.map((m, i) => (
                <div key={i} className={`msg msg-${m.role}${m.error ? ' msg-error' : ''}`} data-testid={`msg-${m.role}`}>
                  <div className="msg-text">{m.content || (m.error ? '' : '…')}</div>
                  {m.stats && (
                    <div className="msg-stats" data-testid="chat-stats">
                      <strong>{m.stats.tokensPerSecond.toFixed(1)} tok/s</strong> · {m.stats.tokens} tokens · first token {formatMs(m.stats.firstTokenMs)}
                      {m.stats.loadMs > 50 ? ` · load ${formatMs(m.stats.loadMs)}` : ''} · {STOP_TEXT[m.stats.stopReason] ?? m.stats.stopReason}
                    </div>
                  )}
                  {m.error !== undefined && <ErrorNotice error={m.error} compact />}
                </div>
              ))}
              {streaming && (
                <div className="msg msg-assistant streaming" data-testid="msg-streaming">
                  <div className="msg-text">
                    {streaming.text}
                    <span className="caret" aria-hidden="true" />
                  </div>
                  <div className="msg-stats">
                    {streaming.firstTokenAt === null ? (streaming.id === null ? 'Starting…' : 'Loading the model…') : `${streaming.tokens} tokens${liveRate ? ` · ${liveRate.toFixed(1)} tok/s` : ''}`}
                  </div>
                </div>
              )}
            </div>
            <ErrorNotice error={startError} title="Could not start the model" />
            <form className="composer" onSubmit={(e) => void send(e)}>
              <label htmlFor={`${id}-input`} className="visually-hidden">
                Message
              </label>
              <textarea
                id={`${id}-input`}
                className="input"
                rows={2}
                value={input}
                onChange={(e) => setInput(e.target.value)}
                onKeyDown={onKeyDown}
                placeholder={model ? 'Write a message…' : 'Pick a model first'}
                disabled={!model}
                data-testid="chat-input"
              />
              {streaming ? (
                <button type="button" className="btn btn-danger" onClick={() => void stop()} disabled={streaming.stopping} data-testid="chat-stop">
                  {streaming.stopping ? 'Stopping…' : 'Stop'}
                </button>
              ) : (
                <button type="submit" className="btn btn-primary" disabled={!model || input.trim() === '' || !selected} data-testid="chat-send">
                  Send
                </button>
              )}
            </form>
          </div>
        </div>
      )}
    </section>
  )
}
