// `npm run cloud -- [serve] [--data-dir D] [--port N] [--host H] [--smtp-url smtp://… --mail-from ADDR]`
// `npm run cloud -- rollout noise_handshake|legacy_device_login --enable|--disable [--data-dir D]`
// `npm run cloud -- revoke <device_id> [--data-dir D]`
// `npm run cloud -- migrate --to postgres://… [--data-dir D]`: copy this (stopped) cloud into an empty PostgreSQL
import { mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { AuthService, DEFAULT_AUTH_TIMINGS, FEATURE_FLAGS, type FeatureFlag } from './auth-service.js';
import { blobLimitsFromEnv } from './blob-store.js';
import { isPostgresUrl, openCloudStore } from './db/cloud-store.js';
import { openCloudDatabase } from './db/open.js';
import { createCloudLogger } from './log.js';
import { migrateSqliteToPostgres } from './migrate-to-postgres.js';
import { LogOtpSender, type OtpSender } from './otp-sender.js';
import { startCloud } from './server.js';
import { SmtpOtpSender } from './smtp-otp-sender.js';
import { Telemetry } from './telemetry.js';

export const DEFAULT_CLOUD_PORT = 7480;

function defaultDataDir(): string {
  return process.env.SALITA_CLOUD_DATA_DIR ?? join(process.env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), 'salita-cloud');
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'data-dir': { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      enable: { type: 'boolean' },
      disable: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      'reset-secrets': { type: 'boolean' },
      'smtp-url': { type: 'string' },
      'mail-from': { type: 'string' },
      to: { type: 'string' },
      database: { type: 'string' },
      bus: { type: 'string' },
    },
  });
  const dataDir = values['data-dir'] ?? defaultDataDir();
  // The store and the bus: flags first, then the environment (a container's way), else one instance on SQLite.
  const database = values.database ?? process.env.SALITA_CLOUD_DATABASE_URL;
  const bus = values.bus ?? process.env.SALITA_CLOUD_BUS_URL;
  if (database !== undefined && !isPostgresUrl(database)) {
    console.error('--database takes a postgres://user@host:port/database URL');
    return 2;
  }
  if (bus !== undefined && !/^nats:\/\//.test(bus)) {
    console.error('--bus takes a nats://host:port URL');
    return 2;
  }
  const [cmd = 'serve', arg] = positionals;
  if (values.help) {
    console.log(
      'usage: npm run cloud -- [serve] [--data-dir D] [--port N] [--host H] [--database postgres://…] [--bus nats://…] [--reset-secrets] [--smtp-url smtp://user:pass@host:587 --mail-from ADDR]\n       npm run cloud -- rollout noise_handshake|legacy_device_login --enable|--disable [--data-dir D] [--database postgres://…]\n       npm run cloud -- revoke <device_id> [--data-dir D] [--database postgres://…]\n       npm run cloud -- migrate --to postgres://user@host/db [--data-dir D]   (stop the cloud first)\nWithout --smtp-url, sign-in codes are written to the log (development only).',
    );
    return 0;
  }
  if (cmd === 'rollout' || cmd === 'revoke') {
    const store = await openCloudStore({ dataDir: dataDirEnsured(dataDir), database });
    try {
      const auth = new AuthService(store.sql, new Telemetry(), new LogOtpSender(), DEFAULT_AUTH_TIMINGS);
      if (cmd === 'rollout') {
        if (!FEATURE_FLAGS.includes(arg as FeatureFlag)) {
          console.error(`unknown flag ${arg ?? '(none)'}; known: ${FEATURE_FLAGS.join(', ')}`);
          return 2;
        }
        if (values.enable === values.disable) {
          console.error('say exactly one of --enable or --disable');
          return 2;
        }
        await auth.setFlag(arg as FeatureFlag, values.enable === true);
        console.log(`${arg}: ${values.enable ? 'enabled' : 'disabled'} (in ${dataDir})`);
      } else {
        if (!arg) {
          console.error('usage: revoke <device_id>');
          return 2;
        }
        console.log(`revoked ${await auth.revokeDevice(arg)} token(s) of ${arg}`);
      }
      return 0;
    } finally {
      await store.close();
    }
  }
  if (cmd === 'migrate') {
    if (!values.to || !/^postgres(ql)?:\/\//.test(values.to)) {
      console.error('usage: migrate --to postgres://user@host:port/database [--data-dir D]');
      return 2;
    }
    const sqlite = openCloudDatabase(dataDirEnsured(dataDir));
    try {
      const copies = await migrateSqliteToPostgres(sqlite.sqlite, values.to);
      for (const c of copies) console.log(`${c.table.padEnd(30)} ${String(c.rows).padStart(9)} rows  sha256 ${c.digest}`);
      console.log(`copied ${copies.length} tables from ${dataDir} into PostgreSQL, verified`);
      return 0;
    } catch (err) {
      console.error(`migrate: ${(err as Error).message}`);
      return 1;
    } finally {
      sqlite.close();
    }
  }
  if (cmd !== 'serve') {
    console.error(`unknown command ${cmd}`);
    return 2;
  }
  const port = Number(values.port ?? process.env.SALITA_CLOUD_PORT ?? DEFAULT_CLOUD_PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`bad port ${values.port}`);
    return 2;
  }
  const logSender = new LogOtpSender((line) => logger.info(line));
  const smtpUrl = values['smtp-url'] ?? process.env.SALITA_CLOUD_SMTP_URL;
  const mailFrom = values['mail-from'] ?? process.env.SALITA_CLOUD_MAIL_FROM;
  if (smtpUrl && !mailFrom) {
    console.error('--smtp-url needs --mail-from (the From: of the code mails)');
    return 2;
  }
  let otpSender: OtpSender = logSender;
  try {
    if (smtpUrl)
      otpSender = new SmtpOtpSender({
        url: smtpUrl,
        from: mailFrom!,
        fallback: logSender,
        onError: (err, to) => logger.error({ err, to }, `mail: the sign-in code to ${to} could not be sent: ${err.message}`),
      });
  } catch (err) {
    console.error((err as Error).message);
    return 2;
  }
  if (!smtpUrl) logger.warn('no --smtp-url: sign-in codes go to this log, not by mail (fine for development only)');
  // External login (docs/cloud.md "External login"): the origin browsers reach, and an optional OpenID provider.
  const publicUrl = process.env.SALITA_CLOUD_PUBLIC_URL;
  const oidcIssuer = process.env.SALITA_CLOUD_OIDC_ISSUER;
  const oidc = oidcIssuer
    ? {
        issuer: oidcIssuer,
        clientId: process.env.SALITA_CLOUD_OIDC_CLIENT_ID ?? '',
        clientSecret: process.env.SALITA_CLOUD_OIDC_CLIENT_SECRET ?? '',
        name: process.env.SALITA_CLOUD_OIDC_NAME ?? new URL(oidcIssuer).hostname,
      }
    : undefined;
  if (oidc && (!oidc.clientId || !oidc.clientSecret)) {
    console.error('SALITA_CLOUD_OIDC_ISSUER needs SALITA_CLOUD_OIDC_CLIENT_ID and SALITA_CLOUD_OIDC_CLIENT_SECRET');
    return 2;
  }
  if (publicUrl) {
    try {
      new URL(publicUrl);
    } catch {
      console.error(`SALITA_CLOUD_PUBLIC_URL is not a URL: ${publicUrl}`);
      return 2;
    }
  }
  // --reset-secrets: cloud.key was lost; revoke every token instead of refusing to start (startCloud says what it revoked).
  const cloud = await startCloud({
    otpSender,
    dataDir,
    port,
    host: values.host ?? process.env.SALITA_CLOUD_HOST ?? '127.0.0.1',
    defaultMetrics: true,
    resetSecrets: values['reset-secrets'] === true,
    blobLimits: blobLimitsFromEnv(process.env),
    logger,
    ...(publicUrl ? { publicUrl } : {}),
    ...(oidc ? { oidc } : {}),
    ...(process.env.SALITA_CLOUD_INSTANCE ? { instance: process.env.SALITA_CLOUD_INSTANCE } : {}),
    ...(database !== undefined ? { database } : {}),
    ...(bus !== undefined ? { bus } : {}),
  });
  const staticKey = Buffer.from(cloud.publicKey).toString('base64url');
  // Tests, the bench and operators read the URL from this line's msg.
  logger.info(
    { url: cloud.url, dataDir, staticKey },
    `listening on ${cloud.url} (data dir ${dataDir}; ${cloud.store}); static key ${staticKey}`,
  );
  // SIGTERM (a load balancer's orchestrator, systemd): drain first, so nodes move to another instance; SIGINT
  // (a person at the terminal) stops at once.
  const drainMs = Number(process.env.SALITA_CLOUD_DRAIN_MS ?? 2_000);
  const stop = (signal: NodeJS.Signals) => {
    logger.info(`stopping (${signal})`);
    const drained = signal === 'SIGTERM' ? cloud.drain(Number.isFinite(drainMs) && drainMs >= 0 ? drainMs : 2_000) : Promise.resolve(0);
    void drained
      .then(() => cloud.stop())
      .then(
        () => process.exit(0),
        (err: unknown) => {
          logger.error({ err }, 'stop failed');
          process.exit(1);
        },
      );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return -1;
}

/** Opening the database creates the file but not the folder. */
function dataDirEnsured(dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

const logger = createCloudLogger();

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: unknown) => {
    // The message alone says what to do (a damaged database, a missing key); the stack is in the JSON line.
    logger.fatal({ err }, `cannot start: ${(err as Error).message}`);
    console.error(`[salita-cloud] ${(err as Error).message}`);
    process.exit(1);
  },
);
