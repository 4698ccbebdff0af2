// What every CLI command gets: the environment, validated configuration and a logger, with config errors reported the same way.
import { ConfigError, loadConfig, readEnv, type Config, type Env } from "../config.js";
import { createLogger, type Logger } from "../log.js";

export interface CliContext {
  /** The process environment over `.env`: what settings are read from, and the routing policy's `{env: NAME}` credentials. */
  env(): Env;
  /** Validated settings from the environment and `.env`; on error prints every problem and exits 2. */
  config(): Config;
  logger(config: Config): Logger;
}

/** Exit code for "the input was wrong" (usage, config, payload), distinct from 1 = "the check failed". */
export const EXIT_USAGE = 2;

// Read once per process: a command that needs both the settings and the raw environment reads `.env` once.
let env: Env | undefined;

export const cliContext: CliContext = {
  env: () => (env ??= readEnv()),
  config() {
    try {
      return loadConfig(cliContext.env());
    } catch (err) {
      if (err instanceof ConfigError) {
        process.stderr.write(`${err.message}\nFix these settings in the environment or .env (README: Settings).\n`);
        process.exit(EXIT_USAGE);
      }
      throw err;
    }
  },
  logger: (config) => createLogger(config),
};
