import { loadConfig, type Config } from '../../src/config/index.ts';
import { createLogger, type Logger } from '../../src/logger.ts';
import { testLogFile } from './log-capture.ts';

/**
 * A validated Config as production code would load it, from an explicit environment (tests never
 * read or change process.env for configuration). Logs go to a captured test log file.
 */
export function testConfig(env: Record<string, string> = {}, label = 'app'): Config {
  return loadConfig({ NODE_ENV: 'test', TESSERA_LOG_FILE: testLogFile(label), LOG_LEVEL: 'info', ...env });
}

export function testLogger(config: Config): Logger {
  // Synchronous: tests read the log files right after the requests that wrote them.
  return createLogger({ level: config.logLevel, file: config.logFile, sync: true });
}
