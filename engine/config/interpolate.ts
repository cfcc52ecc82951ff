import { isPair, isScalar, isSeq, type Scalar, type ScalarTag, visit, type visitorFn } from 'yaml';
import { joinPath, scalarText } from './read.ts';
import type { ConfigSource } from './source.ts';

export type Expansion =
  | { readonly ok: true; readonly text: string }
  /** `index` is where the bad `${` starts in the input, to place the error exactly. */
  | { readonly ok: false; readonly index: number; readonly message: string };

const REFERENCE = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s;

/**
 * Expands `${VAR}` and `${VAR:-default}` from `env`; `$${` stands for a literal `${`.
 * As in the shell, `:-` also applies when VAR is set but empty, since an empty port or host
 * is never what was meant.
 */
export function expand(input: string, env: NodeJS.ProcessEnv): Expansion {
  let out = '';
  let i = 0;
  while (i < input.length) {
    const dollar = input.indexOf('$', i);
    if (dollar < 0) break;
    out += input.slice(i, dollar);
    if (input.startsWith('$${', dollar)) {
      out += '${';
      i = dollar + 3;
      continue;
    }
    if (!input.startsWith('${', dollar)) {
      out += '$';
      i = dollar + 1;
      continue;
    }
    const close = input.indexOf('}', dollar + 2);
    if (close < 0) {
      return {
        ok: false,
        index: dollar,
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the message quotes config syntax.
        message: "'${' is not closed by '}' (write '$${' for a literal '${')",
      };
    }
    const inner = input.slice(dollar + 2, close);
    const match = REFERENCE.exec(inner);
    if (match === null || match[2]?.includes('${')) {
      return {
        ok: false,
        index: dollar,
        message: `'\${${inner}}' is not a variable reference; expected \${NAME} or \${NAME:-default}`,
      };
    }
    const [, name, fallback] = match;
    const value = env[name];
    if (fallback !== undefined && (value === undefined || value === '')) {
      out += fallback;
    } else if (value === undefined) {
      return {
        ok: false,
        index: dollar,
        message: `environment variable ${name} is not set (set it, or give a default: \${${name}:-value})`,
      };
    } else {
      out += value;
    }
    i = close + 1;
  }
  return { ok: true, text: out + input.slice(i) };
}

/**
 * Where index `index` of a scalar's value lies in the file. Quotes and YAML escapes shift
 * value against source, but `${` survives both unchanged, so the n-th `${` of the value is
 * the n-th `${` of the source.
 */
function sourceOffset(src: ConfigSource, node: Scalar, value: string, index: number): number {
  const start = node.range?.[0] ?? 0;
  const raw = src.text.slice(start, node.range?.[1] ?? start);
  let nth = 0;
  for (let at = value.indexOf('${'); at >= 0 && at < index; at = value.indexOf('${', at + 1)) nth++;
  let at = raw.indexOf('${');
  for (; at >= 0 && nth > 0; nth--) at = raw.indexOf('${', at + 1);
  return at < 0 ? start : start + at;
}

/** The value YAML would have given the text had it been written plain: `4` a number, `true` a boolean. */
function resolvePlain(src: ConfigSource, text: string): unknown {
  const schema = src.doc.schema;
  const tag = schema.tags.find(
    (t): t is ScalarTag => t.default === true && !t.collection && t.test?.test(text) === true,
  );
  if (tag === undefined) return text;
  const value = tag.resolve(text, () => {}, src.doc.options);
  return isScalar(value) ? value.value : value;
}

type Ancestors = Parameters<visitorFn<Scalar>>[2];

/** `redis.servers[1]` for a node, from the chain of collections and pairs the visitor passes down. */
function keyPath(ancestors: Ancestors, node: Scalar): string {
  let path = '';
  ancestors.forEach((parent, i) => {
    const child = ancestors[i + 1] ?? node;
    if (isPair(parent) && isScalar(parent.key)) {
      path = joinPath(path, scalarText(parent.key) ?? '');
    } else if (isSeq(parent)) {
      path += `[${parent.items.indexOf(child)}]`;
    }
  });
  return path;
}

/**
 * Expands references in every scalar, keys included, in place on the parsed document so each
 * node keeps its line and column. A plain scalar is re-typed after expansion, as if the value
 * had been written there (`workers: ${W:-4}` is the number 4); a quoted one stays a string,
 * which is how a user asks for a string.
 */
export function interpolate(src: ConfigSource, env: NodeJS.ProcessEnv): void {
  visit(src.doc, {
    Scalar(_key, node, ancestors) {
      const value = node.value;
      if (typeof value !== 'string' || !value.includes('$')) return;
      const result = expand(value, env);
      if (!result.ok) {
        const at = sourceOffset(src, node, value, result.index);
        src.reportAt(at, keyPath(ancestors, node), result.message);
        src.settle(node);
        return;
      }
      if (result.text === value) return;
      const plain = node.type === 'PLAIN' && node.tag === undefined;
      node.value = plain ? resolvePlain(src, result.text) : result.text;
      node.source = result.text;
    },
  });
}
