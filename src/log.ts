// Builds the process logger: JSON lines in production, pretty output on a terminal.
import { pino, type Logger } from "pino";
import type { Config } from "./config.js";

export type { Logger };

export function createLogger(config: Config, stream: NodeJS.WritableStream = process.stdout): Logger {
  const pretty = config.log.format === "pretty" || (config.log.format === "auto" && process.stdout.isTTY === true);
  const base = { level: config.log.level, base: { service: "orchestrator" } };
  if (pretty && stream === process.stdout) {
    return pino({ ...base, transport: { target: "pino-pretty", options: { translateTime: "SYS:HH:MM:ss.l" } } });
  }
  return pino(base, stream as pino.DestinationStream);
}
