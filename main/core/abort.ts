// Waiting with a signal, without leaving anything behind on it. Node warns (MaxListeners-
// ExceededWarning) once a signal has more than 10 'abort' listeners, and a listener that outlives
// its wait is a leak on a long-lived signal (a seeder's stop, a command's Ctrl-C): every wait
// here removes its listener when it ends, whichever way it ends, and many tasks under one signal
// each get a child signal, which all hang on one listener of the parent.

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
    function done() {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
  })
}

/**
 * Whether `promise` settled within `ms` (false after `ms` or once `signal` aborts). Unlike
 * `Promise.race([promise, sleep(ms, signal)])`, no timer or listener outlives the answer.
 */
export async function within(promise: Promise<unknown>, ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return false
  let timer: NodeJS.Timeout | undefined
  let onAbort = () => {}
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms)
    onAbort = () => resolve(false)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([promise.then(() => true, () => true), late])
  } finally {
    clearTimeout(timer)
    signal?.removeEventListener('abort', onAbort)
  }
}

export interface ChildSignal {
  readonly signal: AbortSignal
  /** Aborts this child only. */
  abort(): void
  /** Lets go of the parent (idempotent); the child itself is not aborted. */
  dispose(): void
}

/** The children of each parent signal, and the one listener on it that aborts them all. */
const families = new WeakMap<AbortSignal, { children: Set<AbortController>; onAbort: () => void }>()

/**
 * A signal that aborts when `parent` does (or is aborted already), for one task of many under
 * one parent: however many children a parent has, it carries one listener for all of them, and
 * none once every child is disposed. Dispose the child when its task ends.
 */
export function childSignal(parent?: AbortSignal): ChildSignal {
  const own = new AbortController()
  const abort = () => own.abort()
  if (!parent) return { signal: own.signal, abort, dispose: () => {} }
  if (parent.aborted) {
    own.abort(parent.reason)
    return { signal: own.signal, abort, dispose: () => {} }
  }
  let family = families.get(parent)
  if (!family) {
    const children = new Set<AbortController>()
    const onAbort = () => {
      families.delete(parent)
      for (const child of children) child.abort(parent.reason)
      children.clear()
    }
    family = { children, onAbort }
    families.set(parent, family)
    parent.addEventListener('abort', onAbort, { once: true })
  }
  family.children.add(own)
  const joined = family
  return {
    signal: own.signal,
    abort,
    dispose: () => {
      if (!joined.children.delete(own) || joined.children.size > 0) return
      parent.removeEventListener('abort', joined.onAbort)
      if (families.get(parent) === joined) families.delete(parent)
    }
  }
}
