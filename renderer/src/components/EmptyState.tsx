import type { ReactNode } from 'react'

/** A calm "nothing here yet" that says what to do next. */
export function EmptyState({ title, children, action, testId }: { title: string; children?: ReactNode; action?: ReactNode; testId?: string }) {
  return (
    <div className="empty" data-testid={testId ?? 'empty'}>
      <svg className="empty-mark" viewBox="0 0 48 48" aria-hidden="true">
        <path d="M24 6c-7 6-11 12-11 19a11 11 0 0 0 22 0c0-7-4-13-11-19z" fill="none" stroke="currentColor" strokeWidth="2" />
        <path d="M24 20v22" stroke="currentColor" strokeWidth="2" />
      </svg>
      <h3>{title}</h3>
      {children && <div className="empty-body">{children}</div>}
      {action && <div className="empty-action">{action}</div>}
    </div>
  )
}
