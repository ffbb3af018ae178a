import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { createClient } from './api/client.js'
import { ClientProvider } from './api/hooks.js'
import { App } from './App.js'
import { ToastProvider } from './components/Toasts.js'
import './styles.css'

const root = document.getElementById('root')
if (!root) throw new Error('no #root element')
createRoot(root).render(
  <StrictMode>
    <ClientProvider client={createClient()}>
      <ToastProvider>
        <App />
      </ToastProvider>
    </ClientProvider>
  </StrictMode>
)
