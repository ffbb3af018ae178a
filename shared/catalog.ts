// TODO(core-restructure): delete this file once main/core imports from shared/catalog/*.
// The catalog lives in shared/catalog/ (wire.ts, store.ts, …); this bridge only keeps the two
// main/core importers compiling while main/core is being restructured, and lint refuses it
// anywhere else (eslint.config.js).
export { Catalog } from './catalog/store.js'
export { catalogEntryFromManifest, toCatalogMessages, type CatalogEntry } from './catalog/wire.js'
