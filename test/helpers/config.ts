import assert from 'node:assert/strict';
import { ConfigError, type ConfigIssue } from '../../engine/config/errors.ts';
import { parseConfig } from '../../engine/config/load.ts';

/** Every issue a config text produces when read as `file`; fails the test when it loads. */
export function configIssues(
  text: string,
  file: string,
  env: NodeJS.ProcessEnv = {},
): readonly ConfigIssue[] {
  try {
    parseConfig(text, file, env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    return error.issues;
  }
  assert.fail('expected the config to be refused');
}
