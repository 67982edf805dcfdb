// The admin token of the desktop UI: from the URL fragment (`#admin=<token>`, then removed from the visible URL and
// kept in sessionStorage for reloads), else from sessionStorage, else from the Electron bridge.
const TOKEN_KEY = 'salita.adminToken';

function tokenFromHash(hash: string): string | null {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const t = params.get('admin');
  return t && /^[A-Za-z0-9_-]{16,}$/.test(t) ? t : null;
}

/**
 * The admin token: from the URL fragment (`#admin=<token>`, then removed from the visible URL and kept in
 * sessionStorage for reloads), else from sessionStorage, else from the Electron bridge.
 */
export async function acquireAdminToken(opts: { preferBridge?: boolean } = {}): Promise<string | null> {
  const fromHash = tokenFromHash(location.hash);
  if (fromHash) {
    sessionStorage.setItem(TOKEN_KEY, fromHash);
    history.replaceState(history.state, '', location.pathname + location.search);
    return fromHash;
  }
  if (!opts.preferBridge) {
    const stored = sessionStorage.getItem(TOKEN_KEY);
    if (stored) return stored;
  }
  if (window.salita) {
    try {
      const t = tokenFromHash(new URL(await window.salita.getAdminUrl()).hash);
      if (t) {
        sessionStorage.setItem(TOKEN_KEY, t);
        return t;
      }
    } catch {
      // fall through: the page explains how to open it with a token
    }
  }
  return null;
}
