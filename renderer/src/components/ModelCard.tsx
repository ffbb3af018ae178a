// A model card is untrusted input from a peer: Markdown rendered with no raw HTML, no scripts
// and no remote content. Links and images are shown as text with their address; nothing is
// fetched and nothing navigates away (grove:// links open inside Grove).
import Markdown, { type Components } from 'react-markdown'
import remarkGfm from 'remark-gfm'
import { href } from '../router.js'

const SAFE_DATA_IMAGE = /^data:image\/(png|jpeg|gif|webp);base64,[a-z0-9+/=\s]+$/i
const MAX_CARD_CHARS = 200_000

const components: Components = {
  // The page has one h1 (the model's name): the card's headings sit one level below it.
  h1: ({ children }) => <h2 className="card-h1">{children}</h2>,
  h2: ({ children }) => <h3 className="card-h2">{children}</h3>,
  h3: ({ children }) => <h4 className="card-h3">{children}</h4>,
  h4: ({ children }) => <h5>{children}</h5>,
  h5: ({ children }) => <h6>{children}</h6>,
  a({ href: url, children }) {
    const target = url ?? ''
    if (/^grove:\/\/[a-z0-9]+$/i.test(target)) {
      return <a href={href('model', target)}>{children}</a>
    }
    const text = typeof children === 'string' ? children : null
    return (
      <span className="card-link" title={target}>
        {children}
        {target !== '' && text !== target && <span className="card-url"> ({target})</span>}
      </span>
    )
  },
  img({ src, alt }) {
    const source = typeof src === 'string' ? src : ''
    if (SAFE_DATA_IMAGE.test(source)) return <img src={source} alt={alt ?? ''} className="card-img" />
    return (
      <span className="card-image-placeholder" title="Remote images are not loaded">
        [image{alt ? `: ${alt}` : ''}{source ? ` — ${source}` : ''}]
      </span>
    )
  }
}

/** Keeps data: images and grove:// links; every other URL reaches the components above as text. */
function urlTransform(url: string): string {
  if (SAFE_DATA_IMAGE.test(url) || /^grove:\/\//i.test(url)) return url
  if (/^(javascript|vbscript|data|file):/i.test(url.trim())) return ''
  return url
}

export function ModelCard({ body }: { body: string }) {
  const text = body.length > MAX_CARD_CHARS ? body.slice(0, MAX_CARD_CHARS) + '\n\n…(the rest of this card is not shown)' : body
  return (
    <article className="markdown" data-testid="model-card">
      <Markdown skipHtml remarkPlugins={[remarkGfm]} components={components} urlTransform={urlTransform}>
        {text}
      </Markdown>
    </article>
  )
}
