// What every CLI command gets: validated configuration and a logger, with config errors reported the same way.
import { ConfigError, loadConfig, readEnv, type Config } from "../config.js";
import { createLogger, type Logger } from "../log.js";

export interface CliContext {
  /** Validated settings from the environment and `.env`; on error prints every problem and exits 2. */
  config(): Config;
  logger(config: Config): Logger;
}

export const cliContext: CliContext = {
  config() {
    try {
      return loadConfig(readEnv());
    } catch (err) {
      if (err instanceof ConfigError) {
        process.stderr.write(`${err.message}\nFix these settings in the environment or .env (README: Settings).\n`);
        process.exit(2);
      }
      throw err;
    }
  },
  logger: (config) => createLogger(config),
};

/** Exit code for "the input was wrong" (usage, config, payload), distinct from 1 = "the check failed". */
export const EXIT_USAGE = 2;
