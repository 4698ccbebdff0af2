// Port for slash commands that act on existing runs (approve, reject, cancel, retry); the workflow engine implements it.
import type { EventActor, EventRepo, EventSource, EventSubject } from "../events/schema.js";
import type { RepoConfig } from "./repo-config/schema.js";
import type { ReviewDecision, RunControlCommand } from "./triggers/decide.js";

/** Where a command was typed and by whom: the subject's runs are the ones it acts on. */
export interface RunControlTarget {
  readonly source: EventSource;
  readonly repo: EventRepo;
  readonly subject: EventSubject;
  readonly actor: EventActor;
  /** The command's event id; `retry` derives the new run's idempotency key from it. */
  readonly eventId: string;
  /** Who may decide each checklist item (repo config `approvers`); an empty list leaves it to anyone with write access. */
  readonly approvers: RepoConfig["approvers"];
}

export interface RunControl {
  /** Applies the command to the subject's run; resolves to the reply to post. */
  apply(command: RunControlCommand, target: RunControlTarget): Promise<string>;
  /** Applies a review to the subject's run waiting for approval; resolves to the reply to post, or null when no run waits. */
  review(review: ReviewDecision, target: RunControlTarget): Promise<string | null>;
}
