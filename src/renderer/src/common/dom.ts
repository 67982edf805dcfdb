// A tiny DOM builder: every text goes through textContent, never innerHTML.
type Child = Node | string | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | ((ev: Event) => void)>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, '').toLowerCase(), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, ...children);
  return el;
}

export function append(el: Element, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing element #${id}`);
  return el as T;
}

/** Sets text only when it changed, so screen readers and selections are not disturbed by identical updates. */
export function setText(el: Element, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

/**
 * Keyed list update: keeps the element of every item whose key survives (so a half-typed form or an open
 * confirm step inside it is not lost), creates new ones, drops vanished ones, and keeps the given order.
 */
export function reconcile<T, E extends HTMLElement>(
  container: HTMLElement,
  items: readonly T[],
  key: (item: T) => string,
  create: (item: T) => E,
  update: (el: E, item: T) => void,
): void {
  const existing = new Map<string, E>();
  for (const child of Array.from(container.children)) {
    const k = (child as HTMLElement).dataset.key;
    if (k !== undefined) existing.set(k, child as E);
  }
  let cursor: Element | null = container.firstElementChild;
  for (const item of items) {
    const k = key(item);
    let el = existing.get(k);
    if (el) existing.delete(k);
    else {
      el = create(item);
      el.dataset.key = k;
    }
    update(el, item);
    if (el !== cursor) container.insertBefore(el, cursor);
    else cursor = cursor.nextElementSibling;
  }
  for (const el of existing.values()) el.remove();
}

/**
 * "just now", "2 minutes ago", "3 hours ago", "yesterday", "4 days ago", "on 3 Nov 2026": last-seen times in
 * words. Pure (takes `now`), so a timer can re-render it without asking the node again.
 */
export function relativeTime(iso: string | null, now = Date.now()): string {
  if (!iso) return 'never';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return 'unknown';
  const s = Math.round((now - t) / 1000);
  if (s < 45) return 'just now'; // also a clock that is slightly ahead
  const m = Math.round(s / 60);
  if (m < 60) return m <= 1 ? 'a minute ago' : `${m} minutes ago`;
  const hours = Math.round(m / 60);
  const days = calendarDaysBetween(t, now);
  if (hours < 24 && days === 0) return hours <= 1 ? 'an hour ago' : `${hours} hours ago`;
  if (days <= 1) return 'yesterday';
  if (days < 7) return `${days} days ago`;
  return `on ${new Date(t).toLocaleDateString(undefined, { day: 'numeric', month: 'short', year: 'numeric' })}`;
}

/** Midnights crossed between two instants, in local time (so 23:50 -> 00:10 is "yesterday"). */
function calendarDaysBetween(from: number, to: number): number {
  const a = new Date(from);
  const b = new Date(to);
  const dayA = Date.UTC(a.getFullYear(), a.getMonth(), a.getDate());
  const dayB = Date.UTC(b.getFullYear(), b.getMonth(), b.getDate());
  return Math.round((dayB - dayA) / 86_400_000);
}

/** "123456" -> "123 456": easier to read aloud and compare. */
export function groupDigits(digits: string): string {
  return digits.length === 6 ? `${digits.slice(0, 3)} ${digits.slice(3)}` : digits;
}
