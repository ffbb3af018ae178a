// Catalog entries signed by the model drive's own key. A publisher signs the summary of each
// drive it wrote; any peer can check that signature against the link alone (a drive's key is
// the hash of its signer's public key), so a signed entry is as good as reading the manifest from
// the drive, without a round trip: a room of a thousand models is verified in milliseconds,
// not one drive read each. The signed bytes are a domain prefix and the entry's RFC 8785
// canonical JSON, so nothing else that key signs (Hypercore tree roots) can be passed off as one.
import { createHash } from 'node:crypto'
import canonicalize from 'canonicalize'
import Hypercore from 'hypercore'
import crypto from 'hypercore-crypto'
import type { CatalogEntry, EntryProof } from '../../shared/catalog/wire.js'
import { linkKey } from '../../shared/catalog/link-keys.js'
import { bytesToHex, hexToBytes } from '../../shared/link.js'

const DOMAIN = createHash('sha256').update('grove/catalog-entry-proof/v1').digest()

export interface SigningKeyPair {
  publicKey: Buffer
  secretKey: Buffer
}

/** The entry, signed by the key pair of the drive it describes. */
export function signEntry(entry: CatalogEntry, keyPair: SigningKeyPair): EntryProof {
  return { signer: bytesToHex(keyPair.publicKey), signature: bytesToHex(crypto.sign(signedBytes(entry), keyPair.secretKey)) }
}

/**
 * Whether `entry.proof` is the signature of the drive named by `entry.link` over this entry.
 * The signer must be the one whose default manifest hashes to the link's key; a drive with any
 * other manifest cannot prove entries this way (its entries are checked by reading the drive).
 */
export function entryProofHolds(entry: CatalogEntry): boolean {
  const proof = entry.proof
  if (!proof) return false
  try {
    const signer = Buffer.from(hexToBytes(proof.signer))
    if (bytesToHex(Hypercore.key(signer)) !== linkKey(entry.link)) return false
    return crypto.verify(signedBytes(entry), Buffer.from(hexToBytes(proof.signature)), signer)
  } catch {
    return false
  }
}

function signedBytes(entry: CatalogEntry): Buffer {
  const { proof: _proof, ...summary } = entry
  // The link as the key alone: a version suffix or another spelling of it signs the same entry.
  return Buffer.concat([DOMAIN, Buffer.from(canonicalize({ ...summary, link: linkKey(entry.link) }) ?? '', 'utf8')])
}
