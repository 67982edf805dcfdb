// The page's Desktop (store + client + pushes), handed to every panel without threading it through props.
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Desktop } from './desktop-store.js';

export const DesktopContext = createContext<Desktop | undefined>(undefined);

export function useDesktop(): Desktop {
  const d = useContext(DesktopContext);
  if (!d) throw new Error('useDesktop outside <DesktopContext.Provider>');
  return d;
}
