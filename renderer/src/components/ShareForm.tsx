// Share a GGUF file that is already on the machine running Grove (library.share takes a path).
// In the desktop app a file picker or a drop yields the path; in a browser the person types the
// path of the file on the server machine. For a fork, the parent and relation are filled in.
import { useId, useState, type DragEvent, type FormEvent } from 'react'
import type { CallResult } from '../../../shared/api.js'
import { RELATIONS, type Relation } from '../../../shared/manifest.js'
import { useClient } from '../api/hooks.js'
import { ErrorNotice } from './ErrorNotice.js'
import { useToast } from './Toasts.js'

interface Props {
  /** Fork mode: the model this share descends from. */
  parent?: { link: string; name: string }
  defaultRelation?: Relation
  onShared?: (result: CallResult<'library.share'>) => void
  onCancel?: () => void
}

const RELATION_HELP: Record<Relation, string> = {
  adapter: 'a LoRA adapter trained on it',
  finetune: 'its weights, trained further',
  quantized: 'the same model at a lower precision',
  merge: 'a merge of it with other models'
}

export function ShareForm({ parent, defaultRelation, onShared, onCancel }: Props) {
  const client = useClient()
  const toast = useToast()
  const id = useId()
  const [path, setPath] = useState('')
  const [name, setName] = useState('')
  const [license, setLicense] = useState('')
  const [description, setDescription] = useState('')
  const [parentLink, setParentLink] = useState(parent?.link ?? '')
  const [relation, setRelation] = useState<Relation>(defaultRelation ?? 'finetune')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<unknown>(null)
  const [dragging, setDragging] = useState(false)
  const [pickNote, setPickNote] = useState<string | null>(null)
  const desktop = client.transport === 'electron'

  const takeFile = (file: File | undefined) => {
    if (!file) return
    const resolved = client.pathForFile(file)
    if (resolved) {
      setPath(resolved)
      setPickNote(null)
      if (name === '') setName(file.name.replace(/\.gguf$/i, ''))
    } else {
      setPickNote(`Grove cannot read “${file.name}” from here. Type the full path of the file on the machine that runs Grove.`)
    }
  }

  const onDrop = (e: DragEvent) => {
    e.preventDefault()
    setDragging(false)
    takeFile(e.dataTransfer.files[0])
  }

  const submit = async (e: FormEvent) => {
    e.preventDefault()
    if (path.trim() === '') {
      setError(new Error('Choose a .gguf file first.'))
      return
    }
    setBusy(true)
    setError(null)
    try {
      const parents = parentLink.trim() !== '' ? [parentLink.trim()] : undefined
      const result = await client.call('library.share', {
        path: path.trim(),
        name: name.trim() || undefined,
        license: license.trim() || undefined,
        description: description.trim() || undefined,
        parents,
        relation: parents ? relation : undefined
      })
      toast(`Shared ${result.name}. Peers in your rooms can now find it.`)
      setPath('')
      setName('')
      setDescription('')
      onShared?.(result)
    } catch (err) {
      setError(err)
    } finally {
      setBusy(false)
    }
  }

  return (
    <form className="share-form" onSubmit={(e) => void submit(e)} data-testid="share-form" aria-label={parent ? `Publish a fork of ${parent.name}` : 'Share a model'}>
      <div
        className={`dropzone${dragging ? ' dragging' : ''}`}
        onDragOver={(e) => {
          e.preventDefault()
          setDragging(true)
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={onDrop}
      >
        <label htmlFor={`${id}-path`} className="field-label">
          {desktop ? 'GGUF file' : 'Path of the GGUF file on the machine running Grove'}
        </label>
        <div className="row">
          <input
            id={`${id}-path`}
            className="input mono grow"
            value={path}
            onChange={(e) => setPath(e.target.value)}
            placeholder={desktop ? 'Drop a .gguf file here, or choose one' : '/home/me/models/my-model.Q4_K_M.gguf'}
            spellCheck={false}
            autoComplete="off"
          />
          {desktop && (
            <label className="btn">
              Choose file…
              <input type="file" accept=".gguf" className="visually-hidden" onChange={(e) => takeFile(e.target.files?.[0])} />
            </label>
          )}
        </div>
        <p className="field-help">
          {desktop
            ? 'Drag a .gguf model or LoRA adapter here. Grove keeps your file where it is and seeds it.'
            : 'In a browser Grove cannot see your files: type the path on the server (where `grove serve` runs). The file stays where it is.'}
        </p>
        {pickNote && <p className="field-help warn">{pickNote}</p>}
      </div>

      <div className="grid-2">
        <div className="field">
          <label htmlFor={`${id}-name`} className="field-label">
            Name <span className="optional">optional</span>
          </label>
          <input id={`${id}-name`} className="input" value={name} onChange={(e) => setName(e.target.value)} placeholder="From the GGUF metadata" />
        </div>
        <div className="field">
          <label htmlFor={`${id}-license`} className="field-label">
            Licence <span className="optional">SPDX id, optional</span>
          </label>
          <input id={`${id}-license`} className="input" value={license} onChange={(e) => setLicense(e.target.value)} placeholder="apache-2.0" list={`${id}-licenses`} />
          <datalist id={`${id}-licenses`}>
            {['apache-2.0', 'mit', 'cc-by-4.0', 'llama3.1', 'gemma', 'other'].map((l) => (
              <option key={l} value={l} />
            ))}
          </datalist>
        </div>
      </div>
      <div className="field">
        <label htmlFor={`${id}-desc`} className="field-label">
          Description <span className="optional">optional</span>
        </label>
        <textarea id={`${id}-desc`} className="input" rows={2} value={description} onChange={(e) => setDescription(e.target.value)} />
      </div>

      <fieldset className="fieldset">
        <legend>{parent ? `Derived from ${parent.name}` : 'Derived from another model (optional)'}</legend>
        <div className="grid-2">
          <div className="field">
            <label htmlFor={`${id}-parent`} className="field-label">
              Parent link
            </label>
            <input
              id={`${id}-parent`}
              className="input mono"
              value={parentLink}
              onChange={(e) => setParentLink(e.target.value)}
              placeholder="grove://…"
              readOnly={parent !== undefined}
              spellCheck={false}
            />
          </div>
          <div className="field">
            <label htmlFor={`${id}-relation`} className="field-label">
              Relation
            </label>
            <select id={`${id}-relation`} className="input" value={relation} onChange={(e) => setRelation(e.target.value as Relation)} disabled={parentLink.trim() === ''}>
              {RELATIONS.map((r) => (
                <option key={r} value={r}>
                  {r} — {RELATION_HELP[r]}
                </option>
              ))}
            </select>
          </div>
        </div>
      </fieldset>

      <ErrorNotice error={error} title="Could not share this file" compact />
      <div className="row end">
        {onCancel && (
          <button type="button" className="btn" onClick={onCancel}>
            Cancel
          </button>
        )}
        <button type="submit" className="btn btn-primary" disabled={busy}>
          {busy ? 'Sharing… (hashing the file)' : parent ? 'Publish fork' : 'Share'}
        </button>
      </div>
    </form>
  )
}
