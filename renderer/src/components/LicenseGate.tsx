// A licence that asks for acceptance (not an open one such as MIT or Apache-2.0) is shown and
// accepted once before download or run; Grove records the acceptance (license.accept).
import { useCallback, useRef, useState } from 'react'
import { useClient } from '../api/hooks.js'
import { Dialog } from './Dialog.js'
import { ErrorNotice } from './ErrorNotice.js'

interface Subject {
  link: string
  name: string
  license: string | null | undefined
  needsAcceptance: boolean
  accepted: boolean
}

/** Returns `ensureAccepted(action)` (resolves true once the licence is accepted) and the dialog to render. */
export function useLicenseGate(subject: Subject | null, onAccepted?: () => void) {
  const client = useClient()
  const [open, setOpen] = useState(false)
  const [action, setAction] = useState('download')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<unknown>(null)
  const resolver = useRef<((ok: boolean) => void) | null>(null)
  const acceptedHere = useRef(new Set<string>())

  const ensureAccepted = useCallback(
    (what: string): Promise<boolean> => {
      if (!subject || !subject.needsAcceptance || subject.accepted || acceptedHere.current.has(subject.link)) return Promise.resolve(true)
      setAction(what)
      setError(null)
      setOpen(true)
      return new Promise((resolve) => {
        resolver.current = resolve
      })
    },
    [subject]
  )

  const finish = (ok: boolean) => {
    setOpen(false)
    resolver.current?.(ok)
    resolver.current = null
  }

  const accept = async () => {
    if (!subject) return
    setBusy(true)
    try {
      await client.call('license.accept', { link: subject.link })
      acceptedHere.current.add(subject.link)
      onAccepted?.()
      finish(true)
    } catch (err) {
      setError(err)
    } finally {
      setBusy(false)
    }
  }

  const dialog = subject ? (
    <Dialog
      open={open}
      title="Accept the licence"
      onClose={() => finish(false)}
      testId="license-dialog"
      actions={
        <>
          <button type="button" className="btn" onClick={() => finish(false)}>
            Cancel
          </button>
          <button type="button" className="btn btn-primary" onClick={() => void accept()} disabled={busy} autoFocus>
            Accept and {action}
          </button>
        </>
      }
    >
      <p>
        <strong>{subject.name}</strong> is published under <code className="license-id">{subject.license ?? 'an unnamed licence'}</code>, which is not an open licence
        such as MIT or Apache-2.0. Its terms may limit how you use the model.
      </p>
      <p>Read the terms in the model card and at the licence’s source before you accept. Grove records your acceptance once for this model.</p>
      <ErrorNotice error={error} compact />
    </Dialog>
  ) : null

  return { ensureAccepted, dialog }
}
