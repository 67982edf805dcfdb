// The current time, re-read every `everyMs`: "5 minutes ago" stays true without asking the node again.
import { useEffect, useState } from 'preact/hooks';

export function useNow(everyMs = 30_000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(t);
  }, [everyMs]);
  return now;
}
