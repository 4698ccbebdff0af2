// The global model kill switch: while engaged, every model call is refused before anything is sent.
export class KillSwitch {
  private reason: string | undefined;

  constructor(engagedAtStart: boolean) {
    if (engagedAtStart) this.reason = "MODEL_KILL_SWITCH is on";
  }

  /** For the API: stop every model call now, with a reason the run reports show. */
  engage(reason: string): void {
    this.reason = reason || "model calls stopped by an operator";
  }

  release(): void {
    this.reason = undefined;
  }

  /** The reason calls are refused, or undefined when calls may go ahead. */
  get engaged(): string | undefined {
    return this.reason;
  }
}
