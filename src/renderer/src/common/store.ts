// One store per page: the state every component renders from, changed only through set(), with a hook that
// re-renders a component when the part it selected changes. The desktop UI feeds it from the admin WebSocket,
// so every panel shows the same pushed truth and none needs a Refresh button.
import { useEffect, useState } from 'preact/hooks';

type Listener = () => void;

export class Store<S extends object> {
  private listeners = new Set<Listener>();

  constructor(private state: S) {}

  get(): S {
    return this.state;
  }

  /** Shallow-merges a patch (or what a function of the current state returns) and tells every subscriber. */
  set(patch: Partial<S> | ((s: S) => Partial<S>)): void {
    const next = typeof patch === 'function' ? patch(this.state) : patch;
    this.state = { ...this.state, ...next };
    for (const l of [...this.listeners]) l();
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** The selected part of a store's state; the component re-renders when it changes (compared with Object.is). */
export function useStore<S extends object, T>(store: Store<S>, select: (s: S) => T): T {
  const [value, setValue] = useState(() => select(store.get()));
  useEffect(() => {
    const update = () => setValue(() => select(store.get()));
    update(); // a change between the first render and this effect
    return store.subscribe(update);
    // The selector is treated as fixed for the component's life (an inline arrow is new at every render).
  }, [store]);
  return value;
}

/** A tiny typed event channel, for pushes that are events rather than state (an envelope arrived). */
export class Channel<E> {
  private listeners = new Set<(e: E) => void>();
  emit(e: E): void {
    for (const l of [...this.listeners]) l(e);
  }
  on(listener: (e: E) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
