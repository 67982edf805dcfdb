// tus's own text refusals as the cloud's JSON (server/http/tus-json.ts), with the error-code header every cloud
// refusal carries.
import { tusRefusalAsJson } from '../server/http/tus-json.js';
import { CLOUD_ERROR_HEADER } from '../shared/wire/cloud.js';

export const tusAsJson = (res: Response): Promise<Response> => tusRefusalAsJson(res, undefined, (code) => ({ [CLOUD_ERROR_HEADER]: code }));
