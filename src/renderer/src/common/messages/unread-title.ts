// "(3) Salita: Study PC": the unread count in front of the page's title, so a tab or the taskbar shows it.
const PREFIX = /^\(\d+\) /;

export function withUnreadPrefix(title: string, unread: number): string {
  const bare = title.replace(PREFIX, '');
  return unread > 0 ? `(${unread}) ${bare}` : bare;
}

/**
 * Keeps the prefix right when the rest of the title changes too (a rename), by watching the <title>; call
 * update() when the count changed.
 */
export function keepUnreadInTitle(unread: () => number): { update: () => void; stop: () => void } {
  const apply = () => {
    const want = withUnreadPrefix(document.title, unread());
    if (document.title !== want) document.title = want;
  };
  apply();
  const el = document.querySelector('title');
  if (!el || typeof MutationObserver === 'undefined') return { update: apply, stop: () => undefined };
  const watch = new MutationObserver(apply);
  watch.observe(el, { childList: true, characterData: true, subtree: true });
  return { update: apply, stop: () => watch.disconnect() };
}
