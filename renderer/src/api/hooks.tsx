// React glue for the client: a context that holds it, and hooks for calls, events and lists
// that stay live (first a call, then pushed events; again after the event stream reconnects).
import { createContext, useCallback, useContext, useEffect, useRef, useState, type ReactNode } from 'react'
import type { CallArgs, CallName, CallResult, EventName, EventPayload } from '../../../shared/api.js'
import type { ConnectionState, RendererClient } from './client.js'

const ClientContext = createContext<RendererClient | null>(null)

export function ClientProvider({ client, children }: { client: RendererClient; children: ReactNode }) {
  return <ClientContext.Provider value={client}>{children}</ClientContext.Provider>
}

export function useClient(): RendererClient {
  const client = useContext(ClientContext)
  if (!client) throw new Error('useClient outside ClientProvider')
  return client
}

export function useConnection(): ConnectionState {
  const client = useClient()
  const [state, setState] = useState(client.connection())
  useEffect(() => {
    const off = client.onConnection(setState)
    setState(client.connection()) // it may have changed before this subscription
    return off
  }, [client])
  return state
}

/** Runs `fn` whenever the event stream comes back after a drop (events may have been missed). */
export function useOnReconnect(fn: () => void): void {
  const client = useClient()
  const ref = useRef(fn)
  ref.current = fn
  useEffect(() => {
    let was = client.connection()
    return client.onConnection((state) => {
      if (state === 'open' && was !== 'open') ref.current()
      was = state
    })
  }, [client])
}

export function useEvent<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): void {
  const client = useClient()
  const ref = useRef(listener)
  ref.current = listener
  useEffect(() => client.on(event, (payload) => ref.current(payload)), [client, event])
}

export interface CallState<T> {
  data: T | undefined
  error: unknown
  loading: boolean
  reload: () => void
  setData: (update: (prev: T | undefined) => T | undefined) => void
}

/** Calls `name` with `args` (re-called when `key` changes, on reload(), and after a reconnect). */
export function useCall<N extends CallName>(name: N, args: CallArgs<N> | null, key: string = JSON.stringify(args)): CallState<CallResult<N>> {
  const client = useClient()
  const [data, setDataState] = useState<CallResult<N> | undefined>(undefined)
  const [error, setError] = useState<unknown>(null)
  const [loading, setLoading] = useState(args !== null)
  const [tick, setTick] = useState(0)
  const argsRef = useRef(args)
  argsRef.current = args

  useEffect(() => {
    const current = argsRef.current
    if (current === null) {
      setLoading(false)
      return
    }
    let live = true
    setLoading(true)
    client.call(name, current).then(
      (result) => {
        if (!live) return
        setDataState(() => result)
        setError(null)
        setLoading(false)
      },
      (err: unknown) => {
        if (!live) return
        setError(err)
        setLoading(false)
      }
    )
    return () => {
      live = false
    }
  }, [client, name, key, tick])

  const reload = useCallback(() => setTick((t) => t + 1), [])
  useOnReconnect(reload)
  const setData = useCallback((update: (prev: CallResult<N> | undefined) => CallResult<N> | undefined) => setDataState(update), [])
  return { data, error, loading, reload, setData }
}

/** A list that a call returns whole and an event pushes whole (library, peers). */
export function useLiveList<N extends 'library.list' | 'peers.list', E extends 'library' | 'peers'>(name: N, event: E): CallState<CallResult<N>> {
  const state = useCall(name, {} as CallArgs<N>)
  const { setData } = state
  useEvent(event, (payload) => setData(() => payload as unknown as CallResult<N>))
  return state
}

/** Transfers: listed once, then upserted one by one from `transfer` events. */
export function useTransfers(): CallState<CallResult<'transfers.list'>> {
  const state = useCall('transfers.list', {})
  const { setData } = state
  useEvent('transfer', (t) =>
    setData((prev) => {
      const list = prev ?? []
      const i = list.findIndex((x) => x.link === t.link)
      if (i < 0) return [t, ...list]
      const next = list.slice()
      next[i] = t
      return next
    })
  )
  return state
}
