// `orchestrator serve`: runs the bot's HTTP server until SIGTERM/SIGINT.
import type { Command } from "commander";
import { createApp } from "../../main.js";
import type { CliContext } from "../context.js";

export default function register(program: Command, ctx: CliContext): void {
  program
    .command("serve")
    .description("Start the HTTP server (webhooks, health, metrics) with the configured backends.")
    .action(async () => {
      const config = ctx.config();
      const logger = ctx.logger(config);
      // Signals are handled from the start: a stop requested while starting waits for the start, then closes.
      const starting = createApp(config, logger);
      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal }, "shutting down");
        const timer = setTimeout(() => {
          logger.error({ timeoutMs: config.server.shutdownTimeoutMs }, "shutdown timed out; exiting");
          process.exit(1);
        }, config.server.shutdownTimeoutMs);
        timer.unref();
        const app = await starting;
        await app.close();
        logger.info("stopped");
        process.exit(0);
      };
      process.once("SIGTERM", () => void stop("SIGTERM"));
      process.once("SIGINT", () => void stop("SIGINT"));

      const app = await starting;
      const url = await app.listen();
      logger.info({ url }, "orchestrator listening");
    });
}
