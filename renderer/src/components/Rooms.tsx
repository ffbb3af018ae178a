// Rooms to join or leave: the public room, named rooms, and private rooms from a shared secret.
import { useId, useState, type FormEvent } from 'react'
import { useCall, useClient } from '../api/hooks.js'
import { ErrorNotice } from './ErrorNotice.js'
import { useToast } from './Toasts.js'

function randomSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
}

export function Rooms() {
  const client = useClient()
  const toast = useToast()
  const rooms = useCall('rooms.list', {})
  const id = useId()
  const [mode, setMode] = useState<'named' | 'private'>('named')
  const [name, setName] = useState('')
  const [secret, setSecret] = useState('')
  const [label, setLabel] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<unknown>(null)

  const join = async (e: FormEvent) => {
    e.preventDefault()
    setBusy(true)
    setError(null)
    try {
      const room = await client.call('rooms.join', mode === 'named' ? { name: name.trim() } : { secret, label: label.trim() || undefined })
      toast(`Joined ${room.name}. Its catalog appears as peers connect.`)
      setName('')
      setSecret('')
      setLabel('')
      rooms.reload()
    } catch (err) {
      setError(err)
    } finally {
      setBusy(false)
    }
  }

  const leave = async (roomId: string, roomName: string) => {
    setError(null)
    try {
      await client.call('rooms.leave', { id: roomId })
      toast(`Left ${roomName}.`, 'info')
      rooms.reload()
    } catch (err) {
      setError(err)
    }
  }

  return (
    <section className="panel rooms" aria-labelledby={`${id}-title`} data-testid="rooms">
      <h2 className="panel-title" id={`${id}-title`}>
        Rooms
      </h2>
      <p className="muted small">You see the catalogs of peers in the rooms you are in.</p>
      <ErrorNotice error={rooms.error} compact onRetry={rooms.reload} />
      <ul className="room-list">
        {(rooms.data ?? []).map((room) => (
          <li key={room.id} className="room" data-testid="room">
            <div>
              <div className="room-name">
                {room.kind === 'private' && (
                  <svg className="lock" viewBox="0 0 16 16" width="12" height="12" role="img" aria-label="Private room">
                    <rect x="3" y="7" width="10" height="7" rx="1.5" fill="currentColor" />
                    <path d="M5 7V5a3 3 0 0 1 6 0v2" fill="none" stroke="currentColor" strokeWidth="1.6" />
                  </svg>
                )}
                {room.name}
              </div>
              <div className="muted small">
                {room.kind} · {room.peers} {room.peers === 1 ? 'peer' : 'peers'}
              </div>
            </div>
            <button type="button" className="btn btn-small btn-ghost" onClick={() => void leave(room.id, room.name)} aria-label={`Leave ${room.name}`}>
              Leave
            </button>
          </li>
        ))}
        {rooms.data?.length === 0 && <li className="muted small">You are in no room: join one to see what others share.</li>}
      </ul>
      <form onSubmit={(e) => void join(e)} className="room-join">
        <div className="segmented" role="radiogroup" aria-label="Kind of room">
          <button type="button" role="radio" aria-checked={mode === 'named'} className={mode === 'named' ? 'on' : ''} onClick={() => setMode('named')}>
            Named
          </button>
          <button type="button" role="radio" aria-checked={mode === 'private'} className={mode === 'private' ? 'on' : ''} onClick={() => setMode('private')}>
            Private
          </button>
        </div>
        {mode === 'named' ? (
          <>
            <label htmlFor={`${id}-name`} className="field-label">
              Room name
            </label>
            <input id={`${id}-name`} className="input" value={name} onChange={(e) => setName(e.target.value)} placeholder="e.g. cs-lab" required />
          </>
        ) : (
          <>
            <label htmlFor={`${id}-secret`} className="field-label">
              Secret (share it only with the people you invite)
            </label>
            <div className="row">
              <input id={`${id}-secret`} className="input mono grow" value={secret} onChange={(e) => setSecret(e.target.value)} minLength={8} required spellCheck={false} autoComplete="off" />
              <button type="button" className="btn btn-small" onClick={() => setSecret(randomSecret())}>
                New
              </button>
            </div>
            <label htmlFor={`${id}-label`} className="field-label">
              Label <span className="optional">only you see it</span>
            </label>
            <input id={`${id}-label`} className="input" value={label} onChange={(e) => setLabel(e.target.value)} placeholder="Our team" />
          </>
        )}
        <ErrorNotice error={error} compact />
        <button type="submit" className="btn" disabled={busy}>
          Join room
        </button>
      </form>
    </section>
  )
}
