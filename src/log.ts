// Builds the process logger: JSON lines in production, pretty output on a terminal.
import { pino, type Logger } from "pino";
import pretty from "pino-pretty";
import type { Config } from "./config.js";

export type { Logger };

export function createLogger(config: Config, stream: NodeJS.WritableStream = process.stdout): Logger {
  const usePretty = config.log.format === "pretty" || (config.log.format === "auto" && process.stdout.isTTY === true);
  const base = { level: config.log.level, base: { service: "orchestrator" } };
  if (usePretty && stream === process.stdout) {
    // In-process and synchronous (not a worker-thread transport), so the last lines before exit are not lost.
    return pino(base, pretty({ translateTime: "SYS:HH:MM:ss.l", ignore: "service", sync: true }));
  }
  return pino(base, stream as pino.DestinationStream);
}
