export declare const PHONE_JS_LIMIT_BYTES: number;
export declare function phoneBundle(dir: string): { files: { file: string; gzip: number }[]; total: number };
