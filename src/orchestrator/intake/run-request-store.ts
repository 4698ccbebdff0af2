// Run requests kept durably in SQLite, unique by idempotency key, so a trigger starts at most one run.
import { ulid } from "ulid";
import type { DatabaseSync } from "../../store/sqlite.js";
import { RunRequest, subjectRef, type RunRequestLog, type RunRequestSink, type StoredRunRequest } from "../run-request.js";

export class SqliteRunRequests implements RunRequestSink, RunRequestLog {
  constructor(private readonly db: DatabaseSync) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS intake_run_requests (
        id TEXT PRIMARY KEY,
        idempotency_key TEXT NOT NULL UNIQUE,
        run_type TEXT NOT NULL,
        repo TEXT NOT NULL,
        subject_ref TEXT NOT NULL,
        event_id TEXT NOT NULL,
        body TEXT NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS intake_run_requests_subject ON intake_run_requests (repo, subject_ref);
    `);
  }

  async submit(request: RunRequest): Promise<{ status: "created" | "existing"; id: string }> {
    const r = RunRequest.parse(request);
    const id = `rreq_${ulid()}`;
    const inserted = this.db
      .prepare(
        `INSERT INTO intake_run_requests (id, idempotency_key, run_type, repo, subject_ref, event_id, body, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING`,
      )
      .run(id, r.idempotency_key, r.run_type, r.repo.full_path, subjectRef(r.subject), r.event_id, JSON.stringify(r), new Date().toISOString());
    if (inserted.changes === 1) return { status: "created", id };
    const row = this.db.prepare("SELECT id FROM intake_run_requests WHERE idempotency_key = ?").get(r.idempotency_key) as { id: string };
    return { status: "existing", id: row.id };
  }

  forSubject(repoFullPath: string, ref: string): StoredRunRequest[] {
    return this.rows(this.db.prepare("SELECT id, body, created_at FROM intake_run_requests WHERE repo = ? AND subject_ref = ? ORDER BY id").all(repoFullPath, ref));
  }

  all(): StoredRunRequest[] {
    return this.rows(this.db.prepare("SELECT id, body, created_at FROM intake_run_requests ORDER BY id").all());
  }

  private rows(rows: unknown[]): StoredRunRequest[] {
    return (rows as { id: string; body: string; created_at: string }[]).map((r) => ({
      id: r.id,
      request: RunRequest.parse(JSON.parse(r.body)),
      created_at: r.created_at,
    }));
  }
}
