// A device's icon by what it is: a phone, a tablet, a laptop or a desktop (from its kind and the platform it
// reported when it paired), a person (a contact's linked devices), or a group of devices. Drawn inline as SVG: no image requests, and it takes the text colour.
export type DeviceShape = 'phone' | 'tablet' | 'laptop' | 'desktop' | 'group' | 'person';

/** From the kind the node knows and the device_info the device sent (platform, form factor, user agent). */
export function deviceShape(kind: string | undefined, info: Readonly<Record<string, unknown>> | undefined): DeviceShape {
  const words = ['platform', 'form_factor', 'model', 'user_agent', 'os']
    .map((k) => info?.[k])
    .filter((v): v is string => typeof v === 'string')
    .join(' ')
    .toLowerCase();
  if (kind === 'group') return 'group';
  if (kind === 'person') return 'person';
  if (/ipad|tablet/.test(words)) return 'tablet';
  if (kind === 'phone' || /iphone|android|mobile/.test(words)) return 'phone';
  if (/laptop|macbook|notebook/.test(words)) return 'laptop';
  return 'desktop';
}

const PATHS: Record<DeviceShape, string> = {
  phone: 'M8 2h8a2 2 0 0 1 2 2v16a2 2 0 0 1-2 2H8a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2zm3 17h2',
  tablet: 'M6 2h12a2 2 0 0 1 2 2v16a2 2 0 0 1-2 2H6a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2zm5 17h2',
  laptop: 'M5 5h14a1 1 0 0 1 1 1v9H4V6a1 1 0 0 1 1-1zM2 18h20',
  desktop: 'M3 4h18a1 1 0 0 1 1 1v11a1 1 0 0 1-1 1H3a1 1 0 0 1-1-1V5a1 1 0 0 1 1-1zm6 17h6m-3-4v4',
  group: 'M9 11a3 3 0 1 0 0-6 3 3 0 0 0 0 6zm-6 9a6 6 0 0 1 12 0M17 11a3 3 0 1 0 0-6m2 15a6 6 0 0 0-3-5.2',
  person: 'M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8zm-7 9a7 7 0 0 1 14 0',
};

const LABEL: Record<DeviceShape, string> = {
  phone: 'Phone',
  tablet: 'Tablet',
  laptop: 'Laptop',
  desktop: 'Desktop',
  group: 'Group',
  person: 'Person',
};

export function DeviceIcon({ shape, label }: { shape: DeviceShape; label?: string }) {
  return (
    <svg class="device-icon" data-shape={shape} viewBox="0 0 24 24" width="20" height="20" role="img" aria-label={label ?? LABEL[shape]}>
      <path d={PATHS[shape]} fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round" />
    </svg>
  );
}

export function shapeLabel(shape: DeviceShape): string {
  return LABEL[shape];
}
