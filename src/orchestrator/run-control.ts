// Port for slash commands that act on existing runs (approve, reject, cancel, retry); the workflow engine implements it.
import type { EventActor, EventRepo, EventSubject } from "../events/schema.js";
import type { RunControlCommand } from "./triggers/decide.js";

export interface RunControl {
  /** Applies the command to the subject's run; resolves to the reply to post. */
  apply(command: RunControlCommand, target: { repo: EventRepo; subject: EventSubject; actor: EventActor; eventId: string }): Promise<string>;
}
