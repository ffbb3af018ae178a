// Hash routes: #/library, #/discover, #/model/<link>, #/lineage/<link>, #/peers, #/transfers,
// #/chat?model=<link>&adapter=<link>. A grove:// link travels as its key alone.
import { useEffect, useState } from 'react'

export type View = 'library' | 'discover' | 'model' | 'lineage' | 'peers' | 'transfers' | 'chat'
export const VIEWS: readonly View[] = ['library', 'discover', 'model', 'lineage', 'peers', 'transfers', 'chat']

export interface Route {
  view: View | 'unknown'
  /** The link of #/model/… and #/lineage/… (grove://…, or sha256:… / name:… lineage ids). */
  link: string | null
  query: URLSearchParams
}

export function parseHash(hash: string): Route {
  const text = hash.replace(/^#\/?/, '')
  const [path = '', search = ''] = splitOnce(text, '?')
  const [first = '', ...rest] = path.split('/')
  const view = (first === '' ? 'library' : first) as View
  const param = rest.join('/')
  return {
    view: VIEWS.includes(view) ? view : 'unknown',
    link: param === '' ? null : paramToLink(decodeURIComponent(param)),
    query: new URLSearchParams(search)
  }
}

function splitOnce(text: string, sep: string): [string, string] {
  const i = text.indexOf(sep)
  return i < 0 ? [text, ''] : [text.slice(0, i), text.slice(i + 1)]
}

function paramToLink(param: string): string {
  return /^(grove:\/\/|sha256:|name:)/.test(param) ? param : `grove://${param}`
}

function linkToParam(link: string): string {
  return link.startsWith('grove://') ? link.slice('grove://'.length) : encodeURIComponent(link)
}

export function href(view: View, link?: string | null, query?: Record<string, string | string[] | undefined>): string {
  let out = `#/${view}`
  if (link) out += `/${linkToParam(link)}`
  if (query) {
    const params = new URLSearchParams()
    for (const [k, v] of Object.entries(query)) {
      if (v === undefined) continue
      for (const item of Array.isArray(v) ? v : [v]) params.append(k, item)
    }
    const s = params.toString()
    if (s) out += `?${s}`
  }
  return out
}

export function navigate(to: string): void {
  window.location.hash = to.replace(/^#/, '')
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(window.location.hash))
  useEffect(() => {
    const onChange = () => setRoute(parseHash(window.location.hash))
    window.addEventListener('hashchange', onChange)
    return () => window.removeEventListener('hashchange', onChange)
  }, [])
  return route
}
