import { readFileSync } from 'node:fs';
import { isScalar, LineCounter, parseDocument } from 'yaml';
import { detectDialect } from './dialect.ts';
import { looksLikeEnvoy, parseEnvoy } from './dialects/envoy.ts';
import { looksLikeHaproxy, readHaproxy } from './dialects/haproxy.ts';
import { looksLikeNginx, readNginx } from './dialects/nginx.ts';
import { applyEnvOverrides } from './env.ts';
import { ConfigError, type ConfigIssue } from './errors.ts';
import { httpVariableIssues } from './http-variables.ts';
import { interpolate } from './interpolate.ts';
import { readNative } from './native.ts';
import { readNutcracker } from './nutcracker.ts';
import { readMap } from './read.ts';
import { ConfigSource } from './source.ts';
import type { LegateConfig } from './types.ts';
import { uwsEngineIssues } from './uws-limits.ts';

const READ_ERRORS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'it is a directory, not a file',
};

/** In file order, so the list reads top to bottom; issues from the environment come last. */
function inOrder(issues: readonly ConfigIssue[]): ConfigIssue[] {
  const rank = (i: ConfigIssue) => (i.line === 0 ? Number.POSITIVE_INFINITY : i.line);
  return [...issues].sort((a, b) => rank(a) - rank(b) || a.column - b.column);
}

/** An nginx.conf (dialects/nginx.ts), with LEGATE_WORKERS and LEGATE_LOG_LEVEL applied. */
function parseNginx(text: string, file: string, env: NodeJS.ProcessEnv): LegateConfig {
  const { settings, issues, warnings } = readNginx(text, file);
  const envIssues: ConfigIssue[] = [];
  const config = applyEnvOverrides(settings, env, {
    reportElsewhere: (path, message) => envIssues.push({ file, line: 0, column: 0, path, message }),
  });
  if (issues.length > 0 || envIssues.length > 0) {
    throw new ConfigError([...issues, ...envIssues]);
  }
  return { file, dialect: 'nginx', ...config, warnings };
}

/**
 * Reads a config from its text: an haproxy.cfg or an nginx.conf when it looks like one
 * (dialects/haproxy.ts, dialects/nginx.ts, told apart on the raw text), else YAML in either of
 * its dialects (see dialect.ts) with `${VAR}` expanded from `env`; LEGATE_WORKERS and
 * LEGATE_LOG_LEVEL applied. Throws one ConfigError listing every issue.
 */
export function parseConfig(
  text: string,
  file: string,
  env: NodeJS.ProcessEnv = process.env,
): LegateConfig {
  const config = parseDialect(text, file, env);
  const unknown = [...httpVariableIssues(config.http), ...uwsEngineIssues(config.http)];
  if (unknown.length > 0)
    throw new ConfigError(unknown.map((i) => ({ file, line: 0, column: 0, ...i })));
  return config;
}

function parseDialect(text: string, file: string, env: NodeJS.ProcessEnv): LegateConfig {
  if (looksLikeHaproxy(text)) return parseHaproxy(text, file, env);
  if (looksLikeNginx(text)) return parseNginx(text, file, env);
  const lines = new LineCounter();
  // uniqueKeys: false because readMap reports duplicates itself, after interpolation and with the key path.
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false });
  const src = new ConfigSource(file, text, doc, lines);
  if (doc.errors.length > 0) {
    // Past a syntax error the tree is a guess; checking it would add noise, not information.
    for (const error of doc.errors)
      src.reportAt(error.pos[0], '', `invalid YAML: ${error.message}`);
    throw new ConfigError(inOrder(src.issues));
  }
  if (looksLikeEnvoy(doc.contents)) return parseEnvoy(text, file, env);
  interpolate(src, env);

  const root = src.deref(doc.contents);
  if (root === null || (isScalar(root) && root.value === null)) {
    src.reportAt(
      0,
      '',
      'the file is empty; expected pools (nutcracker format) or workers, admin, log, redis (legate format)',
    );
    throw new ConfigError(src.issues);
  }
  const dialect = detectDialect(root, src);
  const entries = readMap(root, root, '', src, 'a mapping at the top level');
  if (entries === undefined) throw new ConfigError(src.issues);
  const settings =
    dialect === 'nutcracker' ? readNutcracker(entries, src) : readNative(entries, src, env);
  const config = applyEnvOverrides(settings, env, src);
  if (src.issues.length > 0) throw new ConfigError(inOrder(src.issues));
  return { file, dialect, ...config, warnings: [] };
}

function parseHaproxy(text: string, file: string, env: NodeJS.ProcessEnv): LegateConfig {
  const read = readHaproxy(text, file, env);
  // The overrides report through a ConfigSource; an haproxy.cfg has no YAML, so an empty one.
  const lines = new LineCounter();
  const src = new ConfigSource(file, '', parseDocument('', { lineCounter: lines }), lines);
  const settings = applyEnvOverrides(read.settings, env, src);
  const errors = [...read.errors, ...src.issues];
  if (errors.length > 0) throw new ConfigError(inOrder(errors));
  return { file, dialect: 'haproxy', ...settings, warnings: inOrder(read.warnings) };
}

/** Reads and checks a config file; see parseConfig. An unreadable file is a ConfigError too. */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): LegateConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    const reason = READ_ERRORS[code] ?? (error as Error).message;
    throw new ConfigError([
      { file, line: 0, column: 0, path: '', message: `cannot read the config file: ${reason}` },
    ]);
  }
  return parseConfig(text, file, env);
}
