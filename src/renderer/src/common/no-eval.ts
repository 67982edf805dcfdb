// Imported first by any page that uses zod: the pages' CSP forbids eval, and unless zod is told so before any
// schema is built, it probes `new Function` and the browser reports a CSP violation.
import { z } from 'zod';

z.config({ jitless: true });
