export function findElectron(): { path: string } | { why: string };
export function hasDisplay(): boolean;
