export { loadConfig, ConfigError, ENV_SETTINGS, generateSigningKey } from './load-config.ts';
export type { Config, Environment } from './config-schema.ts';
