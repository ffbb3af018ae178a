import { useState } from 'react'

/** Copies `text` to the clipboard; says so for a moment. */
export function CopyButton({ text, label = 'Copy' }: { text: string; label?: string }) {
  const [done, setDone] = useState(false)
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text)
      setDone(true)
      setTimeout(() => setDone(false), 1500)
    } catch {
      window.prompt('Copy this:', text)
    }
  }
  return (
    <button type="button" className="btn btn-small btn-ghost" onClick={() => void copy()} aria-label={`${label}: ${text}`}>
      {done ? 'Copied' : label}
    </button>
  )
}
