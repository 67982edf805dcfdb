// The one error banner: the last thing that failed, in words, until dismissed or replaced.
import { useStore } from '../../common/store.js';
import { useDesktop } from '../desktop-context.js';

export function ErrorBanner() {
  const desktop = useDesktop();
  const error = useStore(desktop.store, (s) => s.error);
  if (error === undefined) return null;
  return (
    <div data-testid="error-banner" class="banner error" role="alert">
      <span id="error-text">{error}</span>
      <button type="button" class="link" aria-label="Dismiss this message" onClick={() => desktop.clearError()}>
        Dismiss
      </button>
    </div>
  );
}
