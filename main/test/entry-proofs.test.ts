// Signed catalog entries: a peer takes a relayed entry as read from the drive only when the
// drive's own key signed exactly that entry. Anything else (another key, a changed field, a
// proof moved to another link, garbage) counts as a relayed claim.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import Hypercore from 'hypercore'
import crypto from 'hypercore-crypto'
import { Catalog } from '../../shared/catalog/store.js'
import type { CatalogEntry } from '../../shared/catalog/wire.js'
import { bytesToHex, formatLink } from '../../shared/link.js'
import { entryProofHolds, signEntry } from '../core/entry-proofs.js'

function driveKeys() {
  const pair = crypto.keyPair()
  return { pair, link: formatLink(bytesToHex(Hypercore.key(pair.publicKey))) }
}

function entryFor(link: string, name = 'Signed'): CatalogEntry {
  return {
    link,
    name,
    kind: 'model',
    sha256: 'a'.repeat(64),
    size: 1000,
    license: 'mit',
    parents: [],
    publisher: 'b'.repeat(64),
    created: '2026-12-04T00:00:00.000Z'
  }
}

test('an entry signed by its drive holds; another key, a change, another link or garbage does not', () => {
  const { pair, link } = driveKeys()
  const entry = entryFor(link)
  const proof = signEntry(entry, pair)
  assert.equal(entryProofHolds({ ...entry, proof }), true)
  assert.equal(entryProofHolds({ ...entry, link: `${link}/v7`, proof }), true, 'a version suffix names the same drive')

  const other = driveKeys()
  assert.equal(entryProofHolds({ ...entry, proof: signEntry(entry, other.pair) }), false, "another drive's key")
  assert.equal(entryProofHolds({ ...entryFor(other.link), proof }), false, 'the proof moved to another link')
  assert.equal(entryProofHolds({ ...entry, license: 'proprietary', proof }), false, 'a field changed')
  assert.equal(entryProofHolds({ ...entry, parents: [{ sha256: 'c'.repeat(64), relation: 'finetune' }], proof }), false, 'a parent added')
  assert.equal(entryProofHolds({ ...entry, proof: { ...proof, signature: '0'.repeat(128) } }), false, 'a zero signature')
  assert.equal(entryProofHolds({ ...entry, proof: { signer: 'f'.repeat(64), signature: proof.signature } }), false, 'not a point on the curve')
  assert.equal(entryProofHolds(entry), false, 'no proof')
})

test('the catalog takes proven relayed entries as drive reads and drops proofs that do not hold', () => {
  const catalog = new Catalog({ checkProof: entryProofHolds })
  const good = driveKeys()
  const forged = driveKeys()
  const signed = { ...entryFor(good.link, 'Good'), proof: signEntry(entryFor(good.link, 'Good'), good.pair) }
  const lying = { ...entryFor(forged.link, 'Lying'), proof: signEntry(entryFor(forged.link, 'Honest'), forged.pair) }
  const report = catalog.applyMessage('peer-a', { version: 1, entries: [signed, lying] })
  assert.equal(report.accepted, 2)
  assert.equal(catalog.get(good.link)?.source, 'drive')
  assert.equal(catalog.get(forged.link)?.source, 'peer')
  assert.equal(catalog.get(forged.link)?.proof, undefined, 'a proof that does not hold is not kept or relayed')

  // A relayed claim is replaced by the proven entry; a proven one is not replaced by a claim.
  const later = driveKeys()
  catalog.applyMessage('peer-b', { version: 1, entries: [entryFor(later.link, 'Claimed name')] })
  assert.equal(catalog.get(later.link)?.source, 'peer')
  const proven = { ...entryFor(later.link, 'Real name'), proof: signEntry(entryFor(later.link, 'Real name'), later.pair) }
  catalog.applyMessage('peer-c', { version: 1, entries: [proven] })
  assert.equal(catalog.get(later.link)?.name, 'Real name')
  assert.equal(catalog.get(later.link)?.source, 'drive')
  catalog.applyMessage('peer-d', { version: 1, entries: [entryFor(later.link, 'Claimed again')] })
  assert.equal(catalog.get(later.link)?.name, 'Real name')
  assert.equal(catalog.get(later.link)?.seeders, 3, 'all three peers seed it')

  // Without a checker (the renderer's catalog), nothing counts as proven.
  const plain = new Catalog()
  plain.applyMessage('peer-a', { version: 1, entries: [signed] })
  assert.equal(plain.get(good.link)?.source, 'peer')
})
