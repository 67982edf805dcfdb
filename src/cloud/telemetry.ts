// The cloud's telemetry events, typed, delivered in-process to subscribers and counted into Prometheus metrics
// (prom-client) served at GET /metrics. Event names are the seed's atoms joined by dots:
// [:messngr, :noise, :handshake, :start] -> "messngr.noise.handshake.start".
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

export type TelemetryEvent =
  | { name: 'messngr.noise.handshake.start'; pattern: 'NX' | 'IK' }
  | { name: 'messngr.noise.handshake.stop'; pattern: 'NX' | 'IK'; sessionId: string; durationMs: number }
  | { name: 'messngr.noise.handshake.exception'; pattern: 'NX' | 'IK'; code: string; durationMs: number }
  | { name: 'messngr.auth.noise.handshake.success'; sessionId: string }
  | { name: 'messngr.auth.noise.handshake.failure'; code: string }
  | { name: 'messngr.noise.token.issue'; deviceId: string; noise: boolean }
  | { name: 'messngr.noise.token.register'; deviceId: string; sessionId: string }
  | { name: 'messngr.noise.token.verify'; deviceId: string }
  | { name: 'messngr.noise.token.verify.failure'; code: string }
  /** A device id or source address was locked out after too many failed logins (code = the scope). */
  | { name: 'messngr.auth.lockout'; code: 'device' | 'address' | 'email'; lockMs: number }
  /** External login (passkeys, OpenID provider): code = the method. */
  | { name: 'external_login.session_created'; code: string }
  | { name: 'external_login.completed'; code: string }
  | { name: 'external_login.expired'; code: string };

export type TelemetryEventName = TelemetryEvent['name'];

export const TELEMETRY_EVENT_NAMES: readonly TelemetryEventName[] = [
  'messngr.noise.handshake.start',
  'messngr.noise.handshake.stop',
  'messngr.noise.handshake.exception',
  'messngr.auth.noise.handshake.success',
  'messngr.auth.noise.handshake.failure',
  'messngr.noise.token.issue',
  'messngr.noise.token.register',
  'messngr.noise.token.verify',
  'messngr.noise.token.verify.failure',
  'messngr.auth.lockout',
  'external_login.session_created',
  'external_login.completed',
  'external_login.expired',
];

export class Telemetry {
  readonly registry = new Registry();
  private readonly listeners = new Set<(e: TelemetryEvent) => void>();
  private readonly events: Counter<'event' | 'code'>;
  private readonly handshakeSeconds: Histogram<'pattern'>;

  /** `instance`: a label on every series, so that a scrape of several instances behind one name tells them apart. */
  constructor(opts: { defaultMetrics?: boolean; instance?: string } = {}) {
    if (opts.instance) this.registry.setDefaultLabels({ instance: opts.instance });
    this.events = new Counter({
      name: 'salita_cloud_telemetry_events_total',
      help: 'Telemetry events, by event name and (for failures/exceptions) error code',
      labelNames: ['event', 'code'],
      registers: [this.registry],
    });
    this.handshakeSeconds = new Histogram({
      name: 'salita_cloud_noise_handshake_duration_seconds',
      help: 'Time from the first handshake message to the finished Session',
      labelNames: ['pattern'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: [this.registry],
    });
    // Every event shows up at 0 from the start, so a dashboard sees the series before the first event.
    for (const name of TELEMETRY_EVENT_NAMES) this.events.inc({ event: name, code: '' }, 0);
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'salita_cloud_' });
  }

  emit(e: TelemetryEvent): void {
    this.events.inc({ event: e.name, code: 'code' in e ? e.code : '' });
    if (e.name === 'messngr.noise.handshake.stop') this.handshakeSeconds.observe({ pattern: e.pattern }, e.durationMs / 1000);
    for (const l of this.listeners) {
      try {
        l(e);
      } catch {
        /* a listener's failure is its own */
      }
    }
  }

  subscribe(listener: (e: TelemetryEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
