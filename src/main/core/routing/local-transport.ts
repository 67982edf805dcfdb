// Same-node delivery as one of the router's transports: always up, and it has nothing to wake, because a local
// recipient's inbox row is written inside the send's own commit (before the sender's 202) and pushed to the
// device's sockets right after it (MessageStore.enqueue).
import { LOCAL, type Transport } from './ports.js';

export class LocalTransport implements Transport {
  readonly route = 'local' as const;
  isUp(_destination: string = LOCAL): boolean {
    return true;
  }
  downSince(_destination: string = LOCAL): number | undefined {
    return undefined;
  }
  onChange(_fn: (destination: string | undefined) => void): () => void {
    return () => {};
  }
  wake(_destination: string = LOCAL): void {
    /* delivered in the send's commit */
  }
}
