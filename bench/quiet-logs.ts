// Imported first by the benches: the logger reads SALITA_LOG_LEVEL when its module loads, and static imports
// run before the importing module's own code.
process.env.SALITA_LOG_LEVEL ??= 'error';
