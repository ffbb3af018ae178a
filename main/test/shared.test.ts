import assert from 'node:assert/strict'
import { test } from 'node:test'
import { formatLink, parseLink } from '../../shared/link.js'
import { DriveFilePath, MAX_MODEL_FILE_BYTES, Manifest, ParentRef } from '../../shared/manifest.js'
import { formatCard, parseCard } from '../../shared/model-card.js'

const KEY = 'a'.repeat(64)

test('links round-trip in z-base-32 and accept hex keys and versions', () => {
  const link = formatLink(KEY)
  assert.match(link, /^grove:\/\/[ybndrfg8ejkmcpqxot1uwisza345h769]{52}$/)
  assert.equal(parseLink(link).keyHex, KEY)
  assert.equal(parseLink(`grove://${KEY.toUpperCase()}`).keyHex, KEY)
  assert.deepEqual(parseLink(`${link}/v12`), { keyHex: KEY, version: 12 })
})

test('links may name up to four seeders, which the link\'s identity leaves out', () => {
  const seeder = 'b'.repeat(64)
  const link = formatLink(KEY, 3, [seeder])
  assert.match(link, /^grove:\/\/[ybndrfg8ejkmcpqxot1uwisza345h769]{52}\/v3\?seeder=[ybndrfg8ejkmcpqxot1uwisza345h769]{52}$/)
  assert.deepEqual(parseLink(link), { keyHex: KEY, version: 3, seeders: [seeder] })
  assert.deepEqual(parseLink(`grove://${KEY}/?seeder=${seeder.toUpperCase()}&seeder=${seeder}`).seeders, [seeder], 'hex, and the same one twice')
  const five = ['1', '2', '3', '4', '5'].map((d) => d.repeat(64))
  for (const bad of [`grove://${KEY}?seeder=abc`, `grove://${KEY}?peer=${seeder}`, `grove://${KEY}?seeder=${seeder}?x`, `grove://${KEY}?${five.map((k) => `seeder=${k}`).join('&')}`, `grove://${KEY}?seeder=${seeder}&${'x'.repeat(1000)}`]) {
    assert.throws(() => parseLink(bad), (err: { code?: string; message: string }) => err.code === 'BAD_LINK' && !err.message.includes('\n') && err.message.length < 300, bad.slice(0, 80))
  }
  assert.equal(ParentRef.safeParse({ link, relation: 'finetune' }).success, false, 'a manifest names a parent without seeders')
})

test('malformed links are refused with BAD_LINK', () => {
  for (const bad of ['', 'http://x', 'grove://', 'grove://abc', `grove://${KEY}/vX`, `grove://${KEY}/v1/extra`, `grove://${'l'.repeat(52)}`]) {
    assert.throws(() => parseLink(bad), (err: { code?: string }) => err.code === 'BAD_LINK', bad)
  }
})

test('drive file paths must be plain single-level .gguf names', () => {
  for (const good of ['/model.gguf', '/TinyLlama-1.1B.Q4_K_M.gguf']) assert.ok(DriveFilePath.safeParse(good).success, good)
  for (const bad of ['../../x.gguf', '/../x.gguf', '/a/b.gguf', '/etc/passwd', 'model.gguf', '/.hidden.gguf', '/x..gguf', '/model.bin', '/a b.gguf', `/${'a'.repeat(300)}.gguf`]) {
    assert.ok(!DriveFilePath.safeParse(bad).success, bad)
  }
})

test('manifests with absurd sizes or unsafe paths are refused', () => {
  const base = {
    schemaVersion: 1,
    kind: 'model',
    name: 'm',
    files: [{ path: '/m.gguf', size: 10, sha256: 'b'.repeat(64), role: 'weights' }],
    parents: [],
    publisher: KEY,
    created: new Date().toISOString()
  }
  assert.ok(Manifest.safeParse(base).success)
  const withFile = (file: object) => ({ ...base, files: [{ ...base.files[0], ...file }] })
  assert.ok(!Manifest.safeParse(withFile({ size: MAX_MODEL_FILE_BYTES + 1 })).success)
  assert.ok(!Manifest.safeParse(withFile({ size: -1 })).success)
  assert.ok(!Manifest.safeParse(withFile({ size: 1.5 })).success)
  assert.ok(!Manifest.safeParse(withFile({ path: '/../../x.gguf' })).success)
  assert.ok(!Manifest.safeParse(withFile({ sha256: 'zz' })).success)
  assert.ok(!Manifest.safeParse({ ...base, schemaVersion: 2 }).success)
  assert.ok(!Manifest.safeParse({ ...base, parents: [{ relation: 'finetune' }] }).success, 'a parent needs a link or hash')
  assert.ok(!Manifest.safeParse({ ...base, files: Array(17).fill(base.files[0]) }).success)
})

test('model cards keep Hugging Face front matter and tolerate garbage', () => {
  const card = parseCard('---\nlicense: mit\nbase_model: org/base\nbase_model_relation: adapter\ntags: [a, b]\n---\n# Hello\n')
  assert.equal(card.frontMatter.license, 'mit')
  assert.deepEqual(card.frontMatter.base_model, ['org/base'])
  assert.equal(card.frontMatter.base_model_relation, 'adapter')
  assert.equal(card.body, '# Hello\n')
  assert.equal(parseCard(formatCard(card)).frontMatter.license, 'mit')
  assert.deepEqual(parseCard('---\n: : [unclosed\n---\nbody').frontMatter, {})
  assert.equal(parseCard('---\nbase_model_relation: sideways\n---\n').frontMatter.base_model_relation, undefined)
  assert.equal(parseCard('no front matter').body, 'no front matter')
})
